//! `InvalidValue`: the error of the small parsers of user input (sizes, ports, times,
//! restart policies, tags), in place of a bare `String`.

/// A value a user gave (a flag's argument, a field of a file) that does not read as what
/// it should be: the text as given, and what is wrong with it in the words Docker uses for
/// the same value. It shows as the message alone; callers add which flag or file it came
/// from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidValue {
    /// The text as given.
    pub value: String,
    /// What is wrong with it.
    pub message: String,
}

impl InvalidValue {
    pub fn new(value: impl Into<String>, message: impl Into<String>) -> InvalidValue {
        InvalidValue {
            value: value.into(),
            message: message.into(),
        }
    }
}
