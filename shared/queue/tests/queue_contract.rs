//! The Queue contract on both engines: the embedded SQLite queue, and SQS on moto.

mod sqlite {
    use mostrador_core::SystemClock;
    use mostrador_queue::sqlite::SqliteQueue;
    use mostrador_queue::testkit::QueueFixture;
    use mostrador_queue::QueueSpec;
    use mostrador_store::sqlite::Database;
    use std::sync::Arc;

    /// A fresh queue in a SQLite file of its own temp dir.
    async fn make(spec: QueueSpec) -> QueueFixture {
        let dir = match tempfile::tempdir() {
            Ok(dir) => dir,
            Err(e) => panic!("creating a temp dir: {e}"),
        };
        let db = match Database::open(
            dir.path().join("mostrador.db"),
            mostrador_store::sqlite::RowKey::ephemeral(),
        ) {
            Ok(db) => db,
            Err(e) => panic!("opening the queue database: {e}"),
        };
        QueueFixture {
            queue: Arc::new(SqliteQueue::new(db, spec, Arc::new(SystemClock))),
            guard: Box::new(dir),
        }
    }

    mostrador_queue::queue_contract!(make);
}

mod sqs {
    use mostrador_queue::sqs::SqsQueue;
    use mostrador_queue::testkit::QueueFixture;
    use mostrador_queue::QueueSpec;
    use std::sync::Arc;

    /// A fresh, uniquely named queue pair on the moto server named by `MOSTRADOR_TEST_AWS_ENDPOINT`
    /// (panics when it is unset: these tests fail rather than skip without moto).
    async fn make(spec: QueueSpec) -> QueueFixture {
        let config = match mostrador_store::aws::test_sdk_config().await {
            Ok(config) => config,
            Err(e) => panic!("{e}"),
        };
        let client = aws_sdk_sqs::Client::new(&config);
        let unique = QueueSpec {
            name: format!("{}-{}", spec.name, uuid::Uuid::new_v4().simple()),
            ..spec
        };
        let queue = match SqsQueue::ensure(client, unique, 30).await {
            Ok(queue) => queue,
            Err(e) => panic!("creating the queue pair on moto: {e}"),
        };
        QueueFixture {
            queue: Arc::new(queue),
            guard: Box::new(()),
        }
    }

    mostrador_queue::queue_contract!(make);
}
