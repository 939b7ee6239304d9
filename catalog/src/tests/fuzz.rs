//! Fuzzing the GraphQL endpoint's inputs: arbitrary query text, queries
//! built from the schema's own words, and arbitrary variables for the
//! mutations never panic, and every error they cause carries a code.
//! Bounded in CI by proptest's case count; run longer with
//! `PROPTEST_CASES=20000 cargo nextest run -p cortex-catalog fuzz`.

use proptest::prelude::*;

use super::*;

/// Runs `query` with `variables` on a fresh schema; every error must be coded.
fn answers_with_codes(query: &str, variables: Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let response = runtime.block_on(async {
        let (schema, _) = setup();
        run(&schema, query, variables).await
    });
    if let Some(errors) = response.get("errors").and_then(Value::as_array) {
        for error in errors {
            assert!(
                error["extensions"]["code"].is_string(),
                "uncoded error for {query:?}: {error}"
            );
        }
    }
}

/// Words of the schema and of GraphQL, for queries that get past the lexer.
const WORDS: &str = "(\\{|\\}|\\(|\\)|:|,|\\$v|\"x\"|1|-1|99999999999|null|true|\\[|\\]|query|mutation|subscription|fragment|on|\\.\\.\\.|asset|assets|search|lineage|stats|history|id|name|type|first|after|depth|query|relations|nodes|addAsset|updateAsset|deleteAsset|upsertAssets|input|metadata|tags|__schema|__typename)";

proptest! {
    #[test]
    fn arbitrary_text_never_panics(query in any::<String>()) {
        answers_with_codes(&query, json!({}));
    }

    #[test]
    fn schema_shaped_queries_never_panic(words in proptest::collection::vec(WORDS, 1..40)) {
        answers_with_codes(&words.join(" "), json!({}));
    }

    #[test]
    fn arbitrary_mutation_variables_never_panic(
        id in any::<String>(),
        name in any::<String>(),
        kind in "[a-zA-Z_/.-]{0,80}",
        tags in proptest::collection::vec(any::<String>(), 0..4),
        port in any::<i64>(),
    ) {
        let input = json!({
            "id": id, "name": name, "type": kind, "tags": tags,
            "metadata": { "port": port, "nested": { "deep": [port] } },
        });
        answers_with_codes(
            "mutation($input: AddAssetInput!) { addAsset(input: $input) { id } }",
            json!({ "input": input }),
        );
        answers_with_codes(
            "mutation($v: [AssetInput!]!) { upsertAssets(source: \"s\", assets: $v) { created } }",
            json!({ "v": [input] }),
        );
    }
}
