//! Tests of [`super`]: model choice under constraints.

use super::*;

fn catalog() -> Catalog {
    Catalog::embedded().unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

const NONE: &Constraints = &Constraints {
    max_input_price: None,
    max_output_price: None,
    require: Vec::new(),
    min_context: None,
};

fn query<'a>(task: Task, constraints: &'a Constraints) -> Query<'a> {
    Query {
        task,
        constraints,
        prefer: Prefer::Quality,
        prompt_tokens: 10,
        output_tokens: 1024,
        live: &[],
    }
}

fn chain(d: &Decision) -> Vec<&str> {
    std::iter::once(d.chosen.as_str())
        .chain(d.fallbacks.iter().map(String::as_str))
        .collect()
}

#[test]
fn every_task_has_a_decision_with_a_reason() {
    let catalog = catalog();
    for &task in Task::ALL {
        let d = decide(&catalog, &query(task, NONE)).unwrap();
        assert!(catalog.get(&d.chosen).is_some(), "{task}");
        assert!(d.reason.contains(&d.chosen));
        assert!(!d.fallbacks.contains(&d.chosen));
        assert!(d.fallbacks.len() >= 2, "{task}: {d:?}");
        assert!(d.estimated_cost.is_some());
    }
}

#[test]
fn unconstrained_tasks_follow_the_catalog_chain() {
    let catalog = catalog();
    for &task in Task::ALL.iter().filter(|t| **t != Task::Cheap) {
        let d = decide(&catalog, &query(task, NONE)).unwrap();
        let route = &catalog.task_route(task).unwrap();
        assert_eq!(chain(&d), route.models, "{task}");
        assert!(d.reason.contains(&route.why), "{task}: {}", d.reason);
    }
}

#[test]
fn cheap_ranks_every_model_by_the_estimated_cost_of_this_prompt() {
    let catalog = catalog();
    let d = decide(&catalog, &query(Task::Cheap, NONE)).unwrap();
    // gemini-2.5-flash-lite is cheapest on both prices. For 10 prompt + 1024 answer tokens
    // deepseek-v3.2 (0.2009/0.3017) beats gpt-4o-mini (0.105/0.42): the answer dominates.
    assert_eq!(
        chain(&d),
        ["gemini-2.5-flash-lite", "deepseek-v3.2", "gpt-4o-mini"]
    );
    // 10×0.07 + 1024×0.28 = 287.42 USD per 1M² → 0.00028742 USD, exact.
    assert_eq!(d.estimated_cost, Some(dec("0.00028742")));
    // A long prompt with a short answer: input price dominates, gpt-4o-mini wins over
    // deepseek-v3.2.
    let mut q = query(Task::Cheap, NONE);
    q.prompt_tokens = 20_000;
    q.output_tokens = 10;
    let d = decide(&catalog, &q).unwrap();
    assert_eq!(
        chain(&d),
        ["gemini-2.5-flash-lite", "gpt-4o-mini", "gpt-5-mini"]
    );
    // prefer cheap on another task means the same ranking.
    let mut q = query(Task::Code, NONE);
    q.prefer = Prefer::Cheap;
    assert_eq!(
        decide(&catalog, &q).unwrap().chosen,
        "gemini-2.5-flash-lite"
    );
}

#[test]
fn live_models_go_first_when_the_live_list_is_known() {
    let catalog = catalog();
    let live: Vec<String> = ["gpt-4.1", "gpt-4o-mini", "deepseek-v3.2", "kimi-k2"]
        .map(String::from)
        .to_vec();
    let mut q = query(Task::Cheap, NONE);
    q.live = &live;
    let d = decide(&catalog, &q).unwrap();
    assert_eq!(chain(&d), ["deepseek-v3.2", "gpt-4o-mini", "gpt-4.1"]);
    assert!(
        d.reason
            .contains("gemini-2.5-flash-lite (not in the gateway's live model list)"),
        "{}",
        d.reason
    );
    // Unlisted models are not dropped: with one listed reasoning model, the task's chain
    // follows it.
    let live: Vec<String> = vec!["claude-sonnet-4-5-20250929".into()];
    let mut q = query(Task::Reasoning, NONE);
    q.live = &live;
    let d = decide(&catalog, &q).unwrap();
    assert_eq!(
        chain(&d),
        [
            "claude-sonnet-4-5-20250929",
            "gpt-5",
            "claude-opus-4-1-20250805"
        ]
    );
    assert!(
        d.reason
            .contains("gpt-5 (not in the gateway's live model list)")
    );
    assert!(
        d.reason
            .contains("qualifies (of the models the gateway lists)"),
        "{}",
        d.reason
    );
}

#[test]
fn price_caps_drop_models_and_say_which() {
    let catalog = catalog();
    let c = Constraints {
        max_input_price: Some(dec("0.50")),
        ..Constraints::default()
    };
    let d = decide(&catalog, &query(Task::Code, &c)).unwrap();
    // claude-sonnet (3.00) and gpt-4.1 (1.40) are over; deepseek-v3.2 (0.2009) is not.
    assert_eq!(d.chosen, "deepseek-v3.2");
    assert!(
        d.reason
            .contains("claude-sonnet-4-5-20250929 (input $3.00 > $0.50 per 1M)"),
        "{}",
        d.reason
    );
    for id in &d.fallbacks {
        assert!(catalog.get(id).unwrap().price.unwrap().input <= dec("0.50"));
    }
    let c = Constraints {
        max_output_price: Some(dec("1.00")),
        ..Constraints::default()
    };
    let d = decide(&catalog, &query(Task::Creative, &c)).unwrap();
    // None of claude-sonnet, gpt-4o, gemini-2.5-pro qualifies: the priciest model that
    // does is taken (quality), with the reason saying so.
    assert_eq!(d.chosen, "qwen-plus-2025-12-01");
    assert!(
        d.reason
            .contains("chain (claude-sonnet-4-5-20250929, gpt-4o, gemini-2.5-pro) was passed over"),
        "{}",
        d.reason
    );
}

#[test]
fn required_capabilities_and_the_task_s_own_are_enforced() {
    let catalog = catalog();
    let c = Constraints {
        require: vec![Capability::Vision],
        ..Constraints::default()
    };
    // The chinese chain (qwen3-max, deepseek-v3.2, qwen-plus) has no vision model.
    let d = decide(&catalog, &query(Task::Chinese, &c)).unwrap();
    for id in chain(&d) {
        assert!(catalog.get(id).unwrap().vision, "{id}");
    }
    // Task cheap + reasoning: the cheapest reasoning model.
    let c = Constraints {
        require: vec![Capability::Reasoning],
        ..Constraints::default()
    };
    let d = decide(&catalog, &query(Task::Cheap, &c)).unwrap();
    assert_eq!(d.chosen, "gpt-5-mini");
    // Task vision needs vision even with prefer cheap.
    let mut q = query(Task::Vision, NONE);
    q.prefer = Prefer::Cheap;
    q.prompt_tokens = 1_000_000;
    let d = decide(&catalog, &q).unwrap();
    assert!(catalog.get(&d.chosen).unwrap().vision);
}

#[test]
fn min_context_needs_a_stated_window_and_the_prompt_must_fit() {
    let catalog = catalog();
    let c = Constraints {
        min_context: Some(500_000),
        ..Constraints::default()
    };
    let d = decide(&catalog, &query(Task::Code, &c)).unwrap();
    // claude-sonnet has 200k; gpt-4.1 has 1,047,576; deepseek-v3.2 states none.
    assert_eq!(d.chosen, "gpt-4.1");
    assert!(
        d.reason
            .contains("context window 200000 < min_context 500000")
    );
    for id in chain(&d) {
        assert!(catalog.get(id).unwrap().context_window.unwrap() >= 500_000);
    }
    // Without min_context, a prompt too big for a known window still skips that model.
    let mut q = query(Task::Code, NONE);
    q.prompt_tokens = 300_000;
    let d = decide(&catalog, &q).unwrap();
    assert_eq!(d.chosen, "gpt-4.1");
}

#[test]
fn prefer_fast_puts_the_fast_chain_first() {
    let catalog = catalog();
    let mut q = query(Task::Code, NONE);
    q.prefer = Prefer::Fast;
    let d = decide(&catalog, &q).unwrap();
    assert_eq!(chain(&d), catalog.task_route(Task::Fast).unwrap().models);
    assert!(d.reason.contains("prefer fast"), "{}", d.reason);
    // The reasoning task needs a reasoning model; no fast model is one, so the task's own
    // chain follows.
    q.task = Task::Reasoning;
    let d = decide(&catalog, &q).unwrap();
    assert_eq!(
        chain(&d),
        catalog.task_route(Task::Reasoning).unwrap().models
    );
}

#[test]
fn impossible_constraints_name_themselves_and_the_nearest_miss() {
    let catalog = catalog();
    let c = Constraints {
        max_input_price: Some(dec("0.01")),
        require: vec![Capability::Vision],
        ..Constraints::default()
    };
    let e = decide(&catalog, &query(Task::Code, &c))
        .unwrap_err()
        .to_string();
    assert!(e.contains("max_input_price $0.01"), "{e}");
    assert!(e.contains("require [vision]"), "{e}");
    // The nearest miss breaks one constraint: the cheapest vision model, over the cap.
    assert!(
        e.contains("nearest miss: gemini-2.5-flash-lite ($0.07 in / $0.28 out per 1M tokens) — input $0.07 > $0.01 per 1M"),
        "{e}"
    );
    let c = Constraints {
        min_context: Some(2_000_000),
        ..Constraints::default()
    };
    let e = decide(&catalog, &query(Task::Reasoning, &c))
        .unwrap_err()
        .to_string();
    assert!(e.contains("min_context 2000000"), "{e}");
    assert!(e.contains("task reasoning (needs reasoning)"), "{e}");
    assert!(!e.contains("room for"), "not binding, not named: {e}");
    // The reasoning model with the largest stated window is the nearest.
    assert!(
        e.contains("nearest miss: gemini-2.5-pro ($0.875 in / $7.00 out per 1M tokens) — context window 1048576 < min_context 2000000"),
        "{e}"
    );
    // A prompt no stated window holds (models with no stated window pass the fit, which
    // `min_context` rules out): the size is named.
    let c = Constraints {
        min_context: Some(1000),
        ..Constraints::default()
    };
    let mut q = query(Task::General, &c);
    q.prompt_tokens = 2_000_000;
    let e = decide(&catalog, &q).unwrap_err().to_string();
    assert!(
        e.contains("room for ~2001024 tokens (prompt + answer)"),
        "{e}"
    );
}
