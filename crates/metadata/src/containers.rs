//! Container records: the container's identity, its configuration and its last known
//! process state. The process itself is the runtime's; these rows are what `ps` shows
//! after reconciling them with the live system.

use crate::{Db, MetadataError, Result};
use rusqlite::{params, OptionalExtension, Row};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    Created,
    Running,
    Exited,
}

impl ContainerState {
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Exited => "exited",
        }
    }

    fn parse(s: &str) -> ContainerState {
        match s {
            "running" => ContainerState::Running,
            "exited" => ContainerState::Exited,
            _ => ContainerState::Created,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub image_id: String,
    pub image_name: String,
    /// strata's container configuration, as JSON.
    pub config: String,
    pub created: String,
    pub state: ContainerState,
    pub pid: Option<i64>,
    pub exit_code: Option<i64>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

const COLUMNS: &str = "id, name, image_id, image_name, config, created, state, pid, exit_code, started_at, finished_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ContainerRecord> {
    Ok(ContainerRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        image_id: r.get(2)?,
        image_name: r.get(3)?,
        config: r.get(4)?,
        created: r.get(5)?,
        state: ContainerState::parse(&r.get::<_, String>(6)?),
        pid: r.get(7)?,
        exit_code: r.get(8)?,
        started_at: r.get(9)?,
        finished_at: r.get(10)?,
    })
}

impl Db {
    /// Records a new container. A name already in use is a conflict, as in Docker.
    pub fn insert_container(&mut self, c: &ContainerRecord) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            let taken: Option<String> = tx
                .query_row("SELECT id FROM containers WHERE name = ?1", [&c.name], |r| r.get(0))
                .optional()
                .map_err(|source| MetadataError::Sqlite {
                    path: path.clone(),
                    source,
                })?;
            if let Some(other) = taken {
                return Err(MetadataError::Conflict(format!(
                    "Conflict. The container name \"/{}\" is already in use by container \"{other}\". \
                     You have to remove (or rename) that container to be able to reuse that name.",
                    c.name
                )));
            }
            tx.execute(
                &format!("INSERT INTO containers ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
                params![
                    c.id,
                    c.name,
                    c.image_id,
                    c.image_name,
                    c.config,
                    c.created,
                    c.state.as_str(),
                    c.pid,
                    c.exit_code,
                    c.started_at,
                    c.finished_at
                ],
            )
            .map_err(|source| MetadataError::Sqlite {
                path: path.clone(),
                source,
            })?;
            Ok(())
        })
    }

    pub fn containers(&self) -> Result<Vec<ContainerRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM containers ORDER BY created DESC, id"))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], from_row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>().map_err(|e| self.err(e))
    }

    pub fn container(&self, id: &str) -> Result<Option<ContainerRecord>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM containers WHERE id = ?1"),
                [id],
                from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records a state change.
    pub fn set_container_state(
        &mut self,
        id: &str,
        state: ContainerState,
        pid: Option<i64>,
        exit_code: Option<i64>,
        at: &str,
    ) -> Result<()> {
        let path = self.path.clone();
        self.write_transient(|tx| {
            let sql = match state {
                ContainerState::Running => {
                    "UPDATE containers SET state = ?2, pid = ?3, exit_code = ?4, started_at = ?5, finished_at = NULL WHERE id = ?1"
                }
                _ => "UPDATE containers SET state = ?2, pid = ?3, exit_code = ?4, finished_at = ?5 WHERE id = ?1",
            };
            tx.execute(sql, params![id, state.as_str(), pid, exit_code, at])
                .map_err(|source| MetadataError::Sqlite { path: path.clone(), source })?;
            Ok(())
        })
    }

    /// Renames a container; a name in use is Docker's conflict.
    pub fn rename_container(&mut self, id: &str, name: &str) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            let e = |source| MetadataError::Sqlite {
                path: path.clone(),
                source,
            };
            let taken: Option<String> = tx
                .query_row("SELECT id FROM containers WHERE name = ?1", [name], |r| r.get(0))
                .optional()
                .map_err(e)?;
            if let Some(other) = taken {
                return Err(MetadataError::Conflict(format!(
                    "Conflict. The container name \"/{name}\" is already in use by container \"{other}\". \
                     You have to remove (or rename) that container to be able to reuse that name."
                )));
            }
            tx.execute("UPDATE containers SET name = ?2 WHERE id = ?1", params![id, name])
                .map_err(e)?;
            Ok(())
        })
    }

    /// Replaces a container's stored configuration.
    pub fn set_container_config(&mut self, id: &str, config: &str) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            tx.execute("UPDATE containers SET config = ?2 WHERE id = ?1", params![id, config])
                .map_err(|source| MetadataError::Sqlite { path, source })?;
            Ok(())
        })
    }

    /// Deletes a container's record: visible to every process at once, durable at the
    /// next [`Db::sync`] (or durable commit), so that a caller may answer in between.
    pub fn remove_container(&mut self, id: &str) -> Result<()> {
        let path = self.path.clone();
        self.write_transient(|tx| {
            tx.execute("DELETE FROM containers WHERE id = ?1", [id])
                .map_err(|source| MetadataError::Sqlite { path, source })?;
            Ok(())
        })
    }

    /// Containers using an image (which `rmi` must refuse to delete).
    pub fn containers_of_image(&self, image_id: &str) -> Result<Vec<ContainerRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM containers WHERE image_id = ?1"))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([image_id], from_row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>().map_err(|e| self.err(e))
    }
}
