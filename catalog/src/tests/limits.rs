//! Abuse: deep, complex or malformed queries and oversized arguments are
//! refused with a coded error, and nothing runs.

use super::*;
use crate::limits::{MAX_DEPTH, MAX_PAGE};

#[tokio::test]
async fn deep_queries_are_refused_before_running() {
    let (schema, _) = setup();
    let mut query = String::from("id");
    for _ in 0..MAX_DEPTH {
        query = format!("relations(first: 1) {{ asset {{ {query} }} }}");
    }
    let (code, message) = error(
        &schema,
        &format!("{{ asset(id: \"x\") {{ {query} }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(code, "QUERY_TOO_COMPLEX");
    assert!(message.contains("nested too deep"), "{message}");
    // Deeper still, the parser refuses before building the query.
    let deeper = format!("{}{}", "{ asset(id: \"x\") ".repeat(40), "}".repeat(40));
    let (code, message) = error(&schema, &deeper, json!({})).await;
    assert_eq!(code, "QUERY_TOO_COMPLEX", "{message}");
}

#[tokio::test]
async fn complex_queries_are_refused_before_running() {
    let (schema, _) = setup();
    let query = "{ assets(first: 500) { nodes { relations { asset { lineage(depth: 10) { id name } } } } } }";
    let (code, message) = error(&schema, query, json!({})).await;
    assert_eq!(code, "QUERY_TOO_COMPLEX");
    assert!(message.contains("too complex"), "{message}");
    let aliases: String = (0..300)
        .map(|i| format!("a{i}: search(query: \"x\", first: 100) {{ id }} "))
        .collect();
    let (code, _) = error(&schema, &format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(code, "QUERY_TOO_COMPLEX");
}

#[tokio::test]
async fn oversized_arguments_are_refused_with_limit_exceeded() {
    let (schema, _) = setup();
    let too_big = format!("{{ assets(first: {}) {{ totalCount }} }}", MAX_PAGE + 1);
    let (code, message) = error(&schema, &too_big, json!({})).await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    assert!(message.contains("at most 500"), "{message}");
    let (code, _) = error(&schema, "{ assets(first: -1) { totalCount } }", json!({})).await;
    assert_eq!(code, "BAD_USER_INPUT");
    let (code, _) = error(
        &schema,
        "{ search(query: \"x\", first: 101) { id } }",
        json!({}),
    )
    .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    let long = "word ".repeat(300);
    let (code, _) = error(
        &schema,
        "query($q: String!) { search(query: $q) { id } }",
        json!({ "q": long }),
    )
    .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    add(&schema, json!({ "id": "a", "name": "a", "type": "image" })).await;
    let (code, _) = error(
        &schema,
        "{ lineage(id: \"a\", depth: 11) { truncated } }",
        json!({}),
    )
    .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    let huge = json!({ "input": { "id": "b", "name": "b", "type": "image",
                                  "metadata": { "blob": "x".repeat(20_000) } } });
    let (code, message) = error(&schema, ADD, huge).await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(message.contains("16384"), "{message}");
    let too_many_tags = json!({ "input": { "id": "b", "name": "b", "type": "image",
                                           "tags": vec!["t"; 100] } });
    assert_eq!(error(&schema, ADD, too_many_tags).await.0, "BAD_USER_INPUT");
}

#[tokio::test]
async fn malformed_queries_fail_validation_with_a_code() {
    let (schema, _) = setup();
    for query in [
        "{ assets(",
        "{ nosuchfield }",
        "{ asset(id: true) { id } }",
        "mutation { deleteAsset }",
    ] {
        let (code, message) = error(&schema, query, json!({})).await;
        assert_eq!(code, "GRAPHQL_VALIDATION_FAILED", "{query}: {message}");
    }
    let (code, _) = error(
        &schema,
        "query($n: Int!) { assets(first: $n) { totalCount } }",
        json!({ "n": "ten" }),
    )
    .await;
    assert_eq!(code, "GRAPHQL_VALIDATION_FAILED");
}
