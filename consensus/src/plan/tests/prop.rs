//! `parse` never panics, on arbitrary text and on mutations of the example;
//! whatever it accepts, `validate` accepts too.

use proptest::prelude::*;

use super::EXAMPLE;
use crate::plan::parse;

fn accepted_specs_validate(text: &str) {
    if let Ok(spec) = parse(text) {
        assert_eq!(spec.validate(), Ok(()));
    }
}

/// Applies edits (position, kind, character) to the example's characters.
fn mutate(edits: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = EXAMPLE.chars().collect();
    for &(at, kind, c) in edits {
        let at = at % chars.len().max(1);
        match kind % 3 {
            0 => {
                chars.remove(at);
            }
            1 => chars.insert(at, c),
            _ => chars[at] = c,
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        accepted_specs_validate(&text);
    }

    #[test]
    fn yaml_like_text_never_panics(text in "[-a-z:{}\\[\\],&*!|>'\" \n0-9#.]{0,200}") {
        accepted_specs_validate(&text);
    }

    #[test]
    fn mutated_examples_never_panic(
        edits in prop::collection::vec(
            (any::<usize>(), any::<u8>(), prop::sample::select(
                vec![' ', '\n', ':', '-', '[', ']', '{', '}', '"', '\'', '&', '*', '0', '9', 'a', 'x', '#'],
            )),
            1..6,
        )
    ) {
        accepted_specs_validate(&mutate(&edits));
    }
}
