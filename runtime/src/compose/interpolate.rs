//! Variable interpolation in compose files, as the compose spec defines it: `$VAR`,
//! `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
//! `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`, and `$$` for a literal
//! `$`. Defaults and alternatives may hold further interpolations (`${A:-${B}}`).

/// Why a string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolateError {
    /// `${VAR:?message}` (or `?`) met an unset (or empty) variable.
    Required { var: String, message: String },
    /// A `${` without its `}`, or a bad name inside it.
    Syntax(String),
}

impl std::fmt::Display for InterpolateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InterpolateError::Required { var, message } if message.is_empty() => {
                write!(f, "required variable {var} is missing a value")
            }
            InterpolateError::Required { var, message } => {
                write!(f, "required variable {var} is missing a value: {message}")
            }
            InterpolateError::Syntax(s) => write!(f, "invalid interpolation format for {s:?}"),
        }
    }
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `text` with every variable replaced by `lookup`'s value (unset: empty string).
pub fn interpolate(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(a) = after.strip_prefix('$') {
            out.push('$');
            rest = a;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = closing_brace(body).ok_or_else(|| InterpolateError::Syntax(text.into()))?;
            out.push_str(&braced(&body[..end], text, lookup)?);
            rest = &body[end + 1..];
        } else {
            let n = after
                .char_indices()
                .find(|&(_, c)| !name_char(c))
                .map(|(j, _)| j)
                .unwrap_or(after.len());
            if n == 0 || after.starts_with(|c: char| c.is_ascii_digit()) {
                // A lone `$` (or `$1`) stays as it is, as compose leaves it.
                out.push('$');
                rest = after;
            } else {
                out.push_str(&lookup(&after[..n]).unwrap_or_default());
                rest = &after[n..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The index of the `}` that closes a `${` whose body starts `body`, counting nested
/// `${...}`.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// One `${...}` body: a name, then optionally an operator and its word.
fn braced(
    body: &str,
    whole: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolateError> {
    let n = body
        .char_indices()
        .find(|&(_, c)| !name_char(c))
        .map(|(j, _)| j)
        .unwrap_or(body.len());
    let name = &body[..n];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(InterpolateError::Syntax(whole.into()));
    }
    let value = lookup(name);
    let op = &body[n..];
    let (colon, op) = match op.strip_prefix(':') {
        Some(o) => (true, o),
        None => (false, op),
    };
    if op.is_empty() {
        return if colon {
            Err(InterpolateError::Syntax(whole.into()))
        } else {
            Ok(value.unwrap_or_default())
        };
    }
    let (kind, word) = op.split_at(1);
    // `:-` and friends treat an empty value as unset.
    let set = match &value {
        Some(v) => !(colon && v.is_empty()),
        None => false,
    };
    match kind {
        "-" if set => Ok(value.unwrap_or_default()),
        "-" => interpolate(word, lookup),
        "+" if set => interpolate(word, lookup),
        "+" => Ok(String::new()),
        "?" if set => Ok(value.unwrap_or_default()),
        "?" => Err(InterpolateError::Required {
            var: name.into(),
            message: interpolate(word, lookup)?,
        }),
        _ => Err(InterpolateError::Syntax(whole.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "A" => Some("apple".into()),
            "EMPTY" => Some(String::new()),
            "B_2" => Some("b".into()),
            _ => None,
        }
    }

    fn i(s: &str) -> Result<String, InterpolateError> {
        interpolate(s, &env)
    }

    #[test]
    fn forms_of_the_spec() {
        assert_eq!(i("$A ${A} x$A-y").unwrap(), "apple apple xapple-y");
        assert_eq!(i("${UNSET}|$UNSET|").unwrap(), "||");
        assert_eq!(
            i("${UNSET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d}").unwrap(),
            "d d  d"
        );
        assert_eq!(
            i("${A:+alt} ${EMPTY:+alt} ${EMPTY+alt} ${UNSET+alt}").unwrap(),
            "alt  alt "
        );
        assert_eq!(i("$$A $${A} $$").unwrap(), "$A ${A} $");
        assert_eq!(
            i("${UNSET:-${B_2}}/${UNSET:-${X:-deep}}").unwrap(),
            "b/deep"
        );
        assert_eq!(i("cost: 5$ or $1").unwrap(), "cost: 5$ or $1");
        assert_eq!(i("${EMPTY?ok}").unwrap(), "");
    }

    #[test]
    fn required_and_bad_forms_are_errors() {
        assert_eq!(
            i("${UNSET:?set it please}").unwrap_err().to_string(),
            "required variable UNSET is missing a value: set it please"
        );
        assert!(matches!(
            i("${EMPTY:?x}"),
            Err(InterpolateError::Required { .. })
        ));
        assert!(matches!(i("${A"), Err(InterpolateError::Syntax(_))));
        assert!(matches!(i("${}"), Err(InterpolateError::Syntax(_))));
        assert!(matches!(i("${A:}"), Err(InterpolateError::Syntax(_))));
        assert!(matches!(i("${A*x}"), Err(InterpolateError::Syntax(_))));
    }

    proptest! {
        /// Text without `$` is left as it is.
        #[test]
        fn text_without_dollars_is_unchanged(s in "[^$]*") {
            prop_assert_eq!(i(&s).unwrap(), s);
        }

        /// `$$` escapes any text: escaping every `$` gives the text back.
        #[test]
        fn escaped_dollars_give_the_text_back(s in ".*") {
            prop_assert_eq!(i(&s.replace('$', "$$")).unwrap(), s);
        }

        /// A set variable's value comes out whatever it holds (no re-interpolation).
        #[test]
        fn values_are_not_reinterpolated(v in ".*", pre in "[a-z ]*") {
            let lookup = |k: &str| (k == "V").then(|| v.clone());
            prop_assert_eq!(interpolate(&format!("{pre}${{V}}"), &lookup).unwrap(), format!("{pre}{v}"));
            prop_assert_eq!(interpolate(&format!("${{V:-{pre}}}"), &lookup).unwrap(),
                if v.is_empty() { pre.clone() } else { v.clone() });
        }

        /// Any input gives a result or an error, never a panic.
        #[test]
        fn never_panics(s in "[$a-z{}:?+\\-]*") {
            let _ = i(&s);
        }
    }
}
