//! Network records and their endpoints: which container holds which address on which
//! network. Addresses are handed out inside one write transaction, and an address is
//! unique per network by the schema, so concurrent `run`s never share one.

use crate::{Db, MetadataError, Result};
use rusqlite::{params, OptionalExtension, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    pub driver: String,
    /// IPv4 subnet in CIDR form, e.g. `10.89.0.0/24`.
    pub subnet: String,
    pub gateway: String,
    /// IPv6 subnet in CIDR form (`network create --ipv6`), empty without IPv6.
    pub subnet6: String,
    /// Empty without IPv6.
    pub gateway6: String,
    /// The Linux bridge that carries it.
    pub bridge: String,
    /// No outbound NAT (`network create --internal`).
    pub internal: bool,
    /// Labels and options, as JSON.
    pub options: String,
    pub created: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRecord {
    pub network_id: String,
    pub container_id: String,
    pub ip: String,
    /// Its IPv6 address, empty on a network without IPv6.
    pub ip6: String,
    /// Names the container answers to on this network, as JSON (name, aliases).
    pub aliases: String,
    /// Its MAC address as given (`--mac-address`); empty: the one derived from `ip`.
    pub mac: String,
}

const NETWORK_COLUMNS: &str =
    "id, name, driver, subnet, gateway, bridge, internal, options, created, subnet6, gateway6";
const ENDPOINT_COLUMNS: &str = "network_id, container_id, ip, aliases, ip6, mac";

fn network_from_row(r: &Row<'_>) -> rusqlite::Result<NetworkRecord> {
    Ok(NetworkRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        driver: r.get(2)?,
        subnet: r.get(3)?,
        gateway: r.get(4)?,
        bridge: r.get(5)?,
        internal: r.get::<_, i64>(6)? != 0,
        options: r.get(7)?,
        created: r.get(8)?,
        subnet6: r.get(9)?,
        gateway6: r.get(10)?,
    })
}

fn endpoint_from_row(r: &Row<'_>) -> rusqlite::Result<EndpointRecord> {
    Ok(EndpointRecord {
        network_id: r.get(0)?,
        container_id: r.get(1)?,
        ip: r.get(2)?,
        aliases: r.get(3)?,
        ip6: r.get(4)?,
        mac: r.get(5)?,
    })
}

impl Db {
    /// Records a network; a name, bridge or subnet already taken is a conflict.
    pub fn insert_network(&mut self, n: &NetworkRecord) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            let e = |source| MetadataError::Sqlite {
                path: path.clone(),
                source,
            };
            let clash: Option<String> = tx
                .query_row(
                    "SELECT name FROM networks WHERE name = ?1 OR bridge = ?2 OR subnet = ?3
                     OR (?4 != '' AND subnet6 = ?4)",
                    params![n.name, n.bridge, n.subnet, n.subnet6],
                    |r| r.get(0),
                )
                .optional()
                .map_err(e)?;
            if let Some(other) = clash {
                return Err(MetadataError::Conflict(if other == n.name {
                    format!("network with name {other} already exists")
                } else {
                    format!(
                        "network {other} already uses subnet {}{} or bridge {}",
                        n.subnet,
                        if n.subnet6.is_empty() {
                            String::new()
                        } else {
                            format!(", subnet {}", n.subnet6)
                        },
                        n.bridge
                    )
                }));
            }
            tx.execute(
                &format!(
                    "INSERT INTO networks ({NETWORK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                ),
                params![
                    n.id,
                    n.name,
                    n.driver,
                    n.subnet,
                    n.gateway,
                    n.bridge,
                    n.internal as i64,
                    n.options,
                    n.created,
                    n.subnet6,
                    n.gateway6
                ],
            )
            .map_err(e)?;
            Ok(())
        })
    }

    pub fn networks(&self) -> Result<Vec<NetworkRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {NETWORK_COLUMNS} FROM networks ORDER BY name"))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], network_from_row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>().map_err(|e| self.err(e))
    }

    /// Removes a network that has no endpoints left.
    pub fn remove_network(&mut self, id: &str) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            let e = |source| MetadataError::Sqlite {
                path: path.clone(),
                source,
            };
            let used: i64 = tx
                .query_row("SELECT COUNT(*) FROM endpoints WHERE network_id = ?1", [id], |r| {
                    r.get(0)
                })
                .map_err(e)?;
            if used > 0 {
                return Err(MetadataError::Conflict(format!(
                    "network {id} has {used} active endpoints; stop or disconnect its containers first"
                )));
            }
            tx.execute("DELETE FROM networks WHERE id = ?1", [id]).map_err(e)?;
            Ok(())
        })
    }

    /// Gives `container_id` an address on `network_id`: `pick` chooses its IPv4 and
    /// IPv6 ('' for none) addresses given those already taken (IPv4, IPv6), or says why it
    /// cannot, inside the transaction that records them. A container that already has an
    /// endpoint there keeps it.
    pub fn allocate_endpoint(
        &mut self,
        network_id: &str,
        container_id: &str,
        aliases: &str,
        mac: &str,
        pick: impl FnOnce(&[String], &[String]) -> std::result::Result<(String, String), String>,
    ) -> Result<EndpointRecord> {
        let path = self.path.clone();
        self.write(|tx| {
            let e = |source| MetadataError::Sqlite {
                path: path.clone(),
                source,
            };
            let existing = tx
                .query_row(
                    &format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE network_id = ?1 AND container_id = ?2"),
                    params![network_id, container_id],
                    endpoint_from_row,
                )
                .optional()
                .map_err(e)?;
            if let Some(found) = existing {
                return Ok(found);
            }
            let mut stmt = tx
                .prepare_cached("SELECT ip, ip6 FROM endpoints WHERE network_id = ?1")
                .map_err(e)?;
            let taken = stmt
                .query_map([network_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(e)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(e)?;
            let (taken4, taken6): (Vec<String>, Vec<String>) = taken.into_iter().unzip();
            let taken6: Vec<String> = taken6.into_iter().filter(|ip| !ip.is_empty()).collect();
            let (ip, ip6) = pick(&taken4, &taken6).map_err(MetadataError::Conflict)?;
            tx.execute(
                "INSERT INTO endpoints (network_id, container_id, ip, aliases, ip6, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![network_id, container_id, ip, aliases, ip6, mac],
            )
            .map_err(e)?;
            Ok(EndpointRecord {
                network_id: network_id.into(),
                container_id: container_id.into(),
                ip,
                ip6,
                aliases: aliases.into(),
                mac: mac.into(),
            })
        })
    }

    /// Releases a container's address on one network, or on all of them.
    pub fn release_endpoints(&mut self, container_id: &str, network_id: Option<&str>) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            let e = |source| MetadataError::Sqlite { path, source };
            match network_id {
                Some(n) => tx.execute(
                    "DELETE FROM endpoints WHERE container_id = ?1 AND network_id = ?2",
                    params![container_id, n],
                ),
                None => tx.execute("DELETE FROM endpoints WHERE container_id = ?1", [container_id]),
            }
            .map_err(e)?;
            Ok(())
        })
    }

    /// Endpoints on one network, or all of them.
    pub fn endpoints(&self, network_id: Option<&str>) -> Result<Vec<EndpointRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ENDPOINT_COLUMNS} FROM endpoints
                     WHERE ?1 IS NULL OR network_id = ?1 ORDER BY network_id, ip"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([network_id], endpoint_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>().map_err(|e| self.err(e))
    }
}
