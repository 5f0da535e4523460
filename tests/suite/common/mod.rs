//! Helpers shared by the integration tests: fresh databases, a simulator
//! playing Slack, and the app's pieces wired to them.

pub mod app;
pub mod bin;
pub mod db;
pub mod harness;
pub mod modal;
pub mod wait;

pub use app::TestApp;
pub use db::TestDb;
pub use harness::Harness;
pub use wait::wait_until;

/// Declares one async test per backend: `name::sqlite` and `name::postgres`.
/// The body receives a fresh [`TestDb`].
#[macro_export]
macro_rules! on_both_backends {
    ($(#[$meta:meta])* async fn $name:ident($db:ident: TestDb) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            async fn run($db: $crate::common::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::common::TestDb::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = $crate::common::TestDb::postgres().await else { return };
                run(db).await;
            }
        }
    };
}

/// Declares a test that needs PostgreSQL (several processes on one database).
#[macro_export]
macro_rules! on_postgres {
    ($(#[$meta:meta])* async fn $name:ident($db:ident: TestDb) $body:block) => {
        $(#[$meta])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let Some($db) = $crate::common::TestDb::postgres().await else { return };
            $body
        }
    };
}
