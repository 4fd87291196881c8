//! Flags that would do nothing in the chosen mode are refused, not ignored: a storage
//! engineer who passes `--cache-size` to a linear run, or `--speed` to a closed-loop replay,
//! believes it took effect. Each refusal names the flag and says why it has no effect.

/// A flag and whether the user gave it.
pub type GivenFlag = (&'static str, bool);

/// Refuses the first given flag of `flags`: it does nothing because of `reason`.
pub fn refuse_given(flags: &[GivenFlag], reason: &str) -> Result<(), String> {
    match flags.iter().find(|(_, given)| *given) {
        Some((flag, _)) => Err(format!("{flag} does nothing here: {reason}; drop it")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_given_flag_is_named_with_the_reason() {
        let flags = [("--ssd", false), ("--assoc", true), ("--mode", true)];
        let error = refuse_given(&flags, "the linear target has no cache").unwrap_err();
        assert_eq!(
            error,
            "--assoc does nothing here: the linear target has no cache; drop it"
        );
    }

    #[test]
    fn nothing_given_is_accepted() {
        assert!(refuse_given(&[("--ssd", false)], "any").is_ok());
        assert!(refuse_given(&[], "any").is_ok());
    }
}
