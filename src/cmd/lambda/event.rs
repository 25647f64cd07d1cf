//! Scheduled events: what the compaction and scrape roles accept. EventBridge Scheduler
//! delivers a schedule's input verbatim (`{"task": "scrape", "shard": 0, "shards": 2,
//! "scheduled_time": "<aws.scheduler.scheduled-time>"}`); an EventBridge rule without input
//! sends its own event (`"detail-type": "Scheduled Event"`), which means shard 0 of 1. A
//! `task` that names another role, a shard outside its count, or anything but a JSON object
//! is refused with a message.

use serde_json::Value;

/// One scheduled invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Scheduled {
    pub(super) shard: u32,
    pub(super) shards: u32,
}

/// Reads a scheduled event for the role whose task is `task` (`compact`, `scrape`).
pub(super) fn parse(task: &str, event: &Value) -> Result<Scheduled, String> {
    let Some(object) = event.as_object() else {
        return Err(format!("expected a JSON object as the event, got {event}"));
    };
    if object.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") {
        return Ok(Scheduled {
            shard: 0,
            shards: 1,
        });
    }
    if let Some(t) = object.get("task") {
        match t.as_str() {
            Some(t) if t == task => {}
            _ => {
                return Err(format!(
                    "this function runs the {task:?} task; the event asks for {t}"
                ));
            }
        }
    }
    let number = |name: &str, default: u32| -> Result<u32, String> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| format!("{name:?} must be a non-negative integer, got {v}")),
        }
    };
    let shards = number("shards", 1)?;
    let shard = number("shard", 0)?;
    if shards == 0 || shard >= shards {
        return Err(format!(
            "shard {shard} of {shards}: the shard must be below the number of shards"
        ));
    }
    Ok(Scheduled { shard, shards })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scheduler_input_rule_event_and_refusals() {
        let input = json!({"task": "scrape", "shard": 1, "shards": 3,
            "scheduled_time": "<aws.scheduler.scheduled-time>"});
        assert_eq!(
            parse("scrape", &input),
            Ok(Scheduled {
                shard: 1,
                shards: 3
            })
        );
        let rule: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/lambda/eventbridge-schedule.json"
        ))
        .unwrap();
        assert_eq!(
            parse("compact", &rule),
            Ok(Scheduled {
                shard: 0,
                shards: 1
            })
        );
        assert_eq!(
            parse("compact", &json!({})),
            Ok(Scheduled {
                shard: 0,
                shards: 1
            })
        );
        for (event, message) in [
            (json!({"task": "scrape"}), "runs the \"compact\" task"),
            (json!([1]), "expected a JSON object"),
            (
                json!({"shard": 2, "shards": 2}),
                "below the number of shards",
            ),
            (json!({"shards": 0}), "below the number of shards"),
            (json!({"shard": -1}), "non-negative integer"),
        ] {
            let err = parse("compact", &event).unwrap_err();
            assert!(err.contains(message), "{event}: {err}");
        }
    }
}
