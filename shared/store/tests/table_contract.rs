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
        let db = Database::open(dir.path().join("mostrador.db")).expect("open");
        let clock = FixedClock::at(Utc::now());
        let table = SqliteTable::new(db, Arc::new(clock.clone()));
        TableFixture { table: Arc::new(table), clock, guard: Box::new(dir) }
    }

    mostrador_store::table_contract!(make);
}

mod dynamodb {
    use super::*;
    use mostrador_store::dynamodb::{ensure_table, DynamoTable};

    async fn make() -> TableFixture {
        let endpoint = std::env::var("MOSTRADOR_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
            panic!("MOSTRADOR_TEST_AWS_ENDPOINT is not set: run the tests through tests/run, which starts moto")
        });
        let config = mostrador_store::aws::sdk_config(Some(&endpoint)).await;
        let client = aws_sdk_dynamodb::Client::new(&config);
        let name = format!("contract-{}", uuid::Uuid::new_v4().simple());
        ensure_table(&client, &name).await.expect("create table on moto");
        let clock = FixedClock::at(Utc::now());
        let table = DynamoTable::new(client, name, Arc::new(clock.clone()));
        TableFixture { table: Arc::new(table), clock, guard: Box::new(()) }
    }

    mostrador_store::table_contract!(make);
}
