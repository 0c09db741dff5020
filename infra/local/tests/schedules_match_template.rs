//! The local scheduler fires exactly the schedules the SAM template declares.

use mostrador_local::schedule::SCHEDULES;
use serde_yaml::Value;

fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => &t.value,
        other => other,
    }
}

#[test]
fn local_schedules_are_the_template_schedules() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let text = std::fs::read_to_string(path).expect("infra/template.yaml");
    let doc: Value = serde_yaml::from_str(&text).expect("template parses as YAML");
    let mut declared = Vec::new();
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .expect("Resources");
    for (_, resource) in resources {
        let Some(events) = resource
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(Value::as_mapping)
        else {
            continue;
        };
        for (name, event) in events {
            if event.get("Type").and_then(Value::as_str) != Some("ScheduleV2") {
                continue;
            }
            let props = event.get("Properties").expect("ScheduleV2 Properties");
            let expression = untag(props.get("ScheduleExpression").expect("expression"))
                .as_str()
                .expect("string")
                .to_owned();
            let tz = props
                .get("ScheduleExpressionTimezone")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let input = untag(props.get("Input").expect("Input"))
                .as_str()
                .expect("Input is a JSON string")
                .to_owned();
            let input: serde_json::Value = serde_json::from_str(&input).expect("Input is JSON");
            let job = input
                .get("job")
                .and_then(|j| j.as_str())
                .expect("Input has a job")
                .to_owned();
            declared.push((name.as_str().expect("name").to_owned(), expression, tz, job));
        }
    }
    declared.sort();
    let mut local: Vec<_> = SCHEDULES
        .iter()
        .map(|s| {
            (
                s.name.to_owned(),
                s.expression.to_owned(),
                Some("America/Mexico_City".to_owned()),
                s.job.name().to_owned(),
            )
        })
        .collect();
    local.sort();
    assert_eq!(
        declared, local,
        "infra/template.yaml and infra/local/src/schedule.rs disagree"
    );
}
