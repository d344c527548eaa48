//! One module per resource family; each matches its paths and answers through the
//! libraries. Library calls are synchronous: they run on the runtime's blocking pool,
//! never on the thread that serves connections.

pub mod build;
pub mod container_attach;
pub mod container_create;
pub mod container_files;
pub mod container_stats;
pub mod containers;
pub mod exec;
pub mod images;
pub mod networks;
pub mod system;
pub mod volumes;

use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Call;
use crate::router::Route;
use hyper::StatusCode;
use std::path::PathBuf;
use std::sync::Arc;
use strata_containers::Containers;
use strata_images::ImageStore;
use strata_runtime::monitor;

/// What every handler may use: the store (shared with the threads of streamed answers
/// and sessions), and strata's binary, which containers' monitors run as.
pub struct Context {
    pub store: Arc<ImageStore>,
    pub monitor_exe: PathBuf,
    pub registry: strata_registry::ClientOptions,
}

impl Context {
    pub fn containers(&self) -> Containers<'_> {
        Containers::new(&self.store)
    }

    /// Launches monitors as `strata __monitor` processes of their own: the service is
    /// multi-threaded and never forks, and containers outlive it.
    pub fn launcher(&self) -> monitor::Exec<'_> {
        monitor::Exec(&self.monitor_exe)
    }
}

/// Answers a routed request.
pub async fn answer(ctx: &Arc<Context>, route: Route, call: Call) -> Reply {
    let answered = match route {
        Route::Ping { head } => Ok(system::ping(head)),
        Route::Version => Ok(system::version()),
        Route::Plugins => Ok(Reply::ok(&serde_json::json!([]))),
        Route::Refused(refusal) => Err(refusal.error()),
        library => on_blocking_pool(ctx, move |ctx| call_library(ctx, library, &call)).await,
    };
    answered.unwrap_or_else(|e| Reply::error(&e))
}

fn call_library(ctx: &Arc<Context>, route: Route, call: &Call) -> Result<Reply, ApiError> {
    let store: &ImageStore = &ctx.store;
    let containers = Containers::new(store);
    match route {
        Route::Info => system::info(&containers),
        Route::SystemDf => system::disk_usage(&containers),
        Route::Image(op) => images::handle(store, &ctx.registry, op, call),
        Route::Container(op) => containers::handle(ctx, op, call),
        Route::Network(op) => networks::handle(&containers, op, call),
        Route::Volume(op) => volumes::handle(&containers, op, call),
        Route::Exec(op) => exec::handle(ctx, op, call),
        Route::Build(op) => build::handle(ctx, op, call),
        Route::System(op) => system::handle(&containers, &ctx.registry, op, call),
        Route::Ping { .. } | Route::Version | Route::Plugins | Route::Refused(_) => {
            unreachable!("answered without the libraries")
        }
    }
}

async fn on_blocking_pool(
    ctx: &Arc<Context>,
    f: impl FnOnce(&Arc<Context>) -> Result<Reply, ApiError> + Send + 'static,
) -> Result<Reply, ApiError> {
    let ctx = Arc::clone(ctx);
    match tokio::task::spawn_blocking(move || f(&ctx)).await {
        Ok(answered) => answered,
        Err(e) => {
            log::error!("an API handler failed: {e}");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error: the request's handler failed; see the service's log",
            ))
        }
    }
}
