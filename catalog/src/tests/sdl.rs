//! The schema's SDL is checked in (`catalog/schema.graphql`): a change to
//! the API shows up in review as a diff of that file, and this test fails
//! until the file is regenerated.

use std::path::Path;

/// Set to regenerate the checked-in SDL.
const UPDATE_ENV: &str = "CORTEX_UPDATE_SCHEMA";

#[test]
fn the_schema_matches_the_checked_in_sdl() {
    let (schema, _) = super::setup();
    let sdl = schema.sdl();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    if std::env::var_os(UPDATE_ENV).is_some() {
        std::fs::write(&path, &sdl).expect("write schema.graphql");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == sdl,
        "the GraphQL schema differs from {}; if the change is intended, regenerate it with\n  \
         {UPDATE_ENV}=1 cargo test -p cortex-catalog the_schema_matches_the_checked_in_sdl\n\
         and commit the file",
        path.display()
    );
}
