//! The Table contract on both engines: `sqlite` (embedded) and `dynamodb` (moto on loopback).

use chrono::Utc;
use mostrador_core::FixedClock;
use mostrador_store::testkit::table::TableFixture;
use std::sync::Arc;

mod sqlite {
    use super::*;
    use mostrador_store::sqlite::{Database, SqliteTable};

    async fn make() -> TableFixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Database::open(
            dir.path().join("mostrador.db"),
            mostrador_store::sqlite::RowKey::ephemeral(),
        )
        .expect("open");
        let clock = FixedClock::at(Utc::now());
        let table = SqliteTable::new(db, Arc::new(clock.clone()));
        TableFixture {
            table: Arc::new(table),
            clock,
            guard: Box::new(dir),
        }
    }

    mostrador_store::table_contract!(make);
}

mod dynamodb {
    use super::*;
    use mostrador_store::dynamodb::{ensure_table, DynamoTable};

    async fn make() -> TableFixture {
        // Stock moto does not serialize conditional writes (DynamoDB does); the contract runs on the
        // one-thread moto that tests/run starts (tests/moto_server.py --serial).
        if let Ok(serial) = std::env::var("MOSTRADOR_TEST_AWS_SERIAL_ENDPOINT") {
            std::env::set_var("MOSTRADOR_TEST_AWS_ENDPOINT", serial);
        }
        let config = mostrador_store::aws::test_sdk_config()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let client = aws_sdk_dynamodb::Client::new(&config);
        let name = format!("contract-{}", uuid::Uuid::new_v4().simple());
        ensure_table(&client, &name)
            .await
            .expect("create table on moto");
        let clock = FixedClock::at(Utc::now());
        let table = DynamoTable::new(client, name, Arc::new(clock.clone()));
        TableFixture {
            table: Arc::new(table),
            clock,
            guard: Box::new(()),
        }
    }

    mostrador_store::table_contract!(make);
}
