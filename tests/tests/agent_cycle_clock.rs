//! The agent's cycle under an injected clock (no sleeping): the same tools
//! and mirror, the clock set inside and then outside the maintenance window.
//! Real engine, real mirror on 127.0.0.1.

use std::collections::BTreeMap;

use jiff::Zoned;
use tooldelta_core::agent::{AgentSettings, Clock, Outcome, Policy, cycle};
use tooldelta_core::channel::ToolSettings;
use tooldelta_core::config::Settings;
use tooldelta_core::events::NullReporter;
use tooldelta_core::{CancellationToken, Engine, EngineConfig, UpdateOptions};
use tooldelta_testkit::{FaultServer, StaticMirror, TestKeys, ToolTree};

struct At(Zoned);

impl Clock for At {
    fn now(&self) -> Zoned {
        self.0.clone()
    }
}

fn at(text: &str) -> At {
    At(text
        .parse::<jiff::civil::DateTime>()
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap())
}

fn rules(policy: Policy) -> ToolSettings {
    ToolSettings {
        policy: Some(policy),
        ..ToolSettings::default()
    }
}

fn active(engine: &Engine, tool: &str) -> Option<String> {
    tooldelta_core::activate::read_current(
        &tooldelta_core::layout::Layout::new(engine.root()),
        tool,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn outside_the_window_auto_only_downloads_and_inside_it_switches_with_nothing_left_to_fetch()
{
    let tmp = tempfile::tempdir().unwrap();
    let keys = TestKeys::new();
    let mut mirror = StaticMirror::new(tmp.path().join("mirror"));
    for (tool, seed) in [("a", 1), ("n", 3), ("m", 5)] {
        for (v, s) in [("1.0.0", 0), ("1.1.0", 1)] {
            let tree = ToolTree::sample(
                tmp.path().join(format!("src/{tool}{v}")),
                64 * 1024,
                seed + s,
            );
            mirror.publish(tree.root(), tool, v, keys.signing_key());
        }
    }
    let server = FaultServer::serve_dir(mirror.root());
    let mut config = EngineConfig::new(tmp.path().join("root"));
    config.mirrors = vec![server.url()];
    config.trust = keys.trust_store();
    let engine = Engine::new(config).unwrap();
    let cancel = CancellationToken::new();
    for tool in ["a", "n", "m"] {
        let opts = UpdateOptions {
            version: Some("1.0.0".into()),
            ..UpdateOptions::default()
        };
        engine
            .update(tool, &opts, &NullReporter, &cancel)
            .await
            .unwrap();
    }
    let settings = Settings {
        window: Some("Sat 01:00-05:00".into()),
        tools: BTreeMap::from([
            ("a".to_owned(), rules(Policy::Auto)),
            ("n".to_owned(), rules(Policy::Notify)),
            ("m".to_owned(), rules(Policy::Manual)),
        ]),
        ..Settings::default()
    };
    let agent = AgentSettings::from_settings(&settings).unwrap();

    // Friday noon (2026-12-04): the window is closed.
    let out = cycle(
        &engine,
        &agent,
        &at("2026-12-04T12:00"),
        &NullReporter,
        &cancel,
    )
    .await
    .unwrap();
    let by_id = |id: &str| out.iter().find(|t| t.tool_id == id).unwrap().clone();
    assert_eq!(by_id("a").outcome, Outcome::Downloaded);
    assert_eq!(
        by_id("a").next_window.as_deref(),
        Some("2026-12-05T01:00:00Z")
    );
    assert_eq!(by_id("n").outcome, Outcome::Available);
    assert_eq!(by_id("m").outcome, Outcome::Manual);
    for tool in ["a", "n", "m"] {
        assert_eq!(active(&engine, tool).as_deref(), Some("1.0.0"), "{tool}");
    }
    // A second closed-window cycle finds it downloaded and waits.
    let out = cycle(
        &engine,
        &agent,
        &at("2026-12-04T13:00"),
        &NullReporter,
        &cancel,
    )
    .await
    .unwrap();
    let a = out.iter().find(|t| t.tool_id == "a").unwrap();
    assert_eq!(a.outcome, Outcome::Waiting);
    assert_eq!(a.message, "1.1.0 downloaded, waiting for the window");

    // Saturday 02:00: inside. The switch fetches nothing: it was all downloaded.
    let out = cycle(
        &engine,
        &agent,
        &at("2026-12-05T02:00"),
        &NullReporter,
        &cancel,
    )
    .await
    .unwrap();
    let a = out.iter().find(|t| t.tool_id == "a").unwrap();
    assert_eq!(a.outcome, Outcome::Updated, "{a:?}");
    assert_eq!(a.bytes_downloaded, 0);
    assert_eq!(active(&engine, "a").as_deref(), Some("1.1.0"));
    assert_eq!(active(&engine, "n").as_deref(), Some("1.0.0"));
    assert_eq!(active(&engine, "m").as_deref(), Some("1.0.0"));
}
