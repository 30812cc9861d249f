use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

/// Every Dockerfile of the corpus: parsed (insta snapshot of the typed result) or its error.
#[test]
fn corpus_parses_as_docker_does() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/build/dockerfile/testdata");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".Dockerfile"))
        .collect();
    names.sort();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        let src = std::fs::read_to_string(dir.join(&name)).expect("read");
        let stem = name.trim_end_matches(".Dockerfile");
        match parse(&src, &name) {
            Ok(df) => insta::assert_json_snapshot!(stem, df),
            Err(e) => insta::assert_snapshot!(stem, e.to_string()),
        }
    }
}

fn err(src: &str) -> String {
    parse(src, "Dockerfile").expect_err(src).to_string()
}

fn first_line(src: &str) -> String {
    err(src).lines().next().unwrap_or_default().to_string()
}

#[test]
fn trailing_remarks_are_not_comments() {
    // Docker reads the remark as FROM's 2nd..5th arguments.
    assert_eq!(
        first_line("FROM alpine   # base\n"),
        "Dockerfile:1:1: FROM requires either one or three arguments"
    );
    // A `\` followed by a remark does not continue the line: the next line is an
    // instruction of its own.
    assert_eq!(
        first_line("FROM alpine\nRUN apk add \\  # x\n  gcc \\\n  musl\n"),
        "Dockerfile:3:3: unknown instruction: gcc"
    );
    // WORKDIR takes the rest of the line, remark included.
    let df = parse("FROM a\nWORKDIR /build  # here\n", "D").unwrap();
    assert_eq!(
        df.stages[0].steps[0].instruction,
        Instruction::Workdir("/build  # here".into())
    );
}

#[test]
fn errors_name_the_line_column_and_instruction() {
    let e = parse("FROM a\n\n   COPY onlyone\n", "deploy/Dockerfile").unwrap_err();
    assert_eq!((e.pos.line, e.pos.column), (3, 4));
    assert_eq!(e.file, "deploy/Dockerfile");
    assert_eq!(e.instruction, "COPY onlyone");
    assert_eq!(
        e.to_string(),
        "deploy/Dockerfile:3:4: COPY requires at least two arguments, but only one was provided. Destination could not be determined\n  COPY onlyone"
    );
    let cases = [
        ("RUN true\n", "no build stage in current context"),
        ("", "has no instructions"),
        ("# just a comment\n\n", "has no instructions"),
        ("FROM a\nFOO bar\n", "unknown instruction: FOO"),
        ("FROM a AS 1x\n", "invalid name for build stage: \"1x\""),
        ("FROM a AS b\nFROM c AS B\n", "duplicate stage name \"b\""),
        (
            "FROM a to b\n",
            "FROM requires either one or three arguments",
        ),
        ("FROM a\nRUN\n", "RUN requires at least one argument"),
        ("FROM a\nRUN --bogus=1 true\n", "unknown flag: --bogus"),
        (
            "FROM a\nCOPY --from a b\n",
            "Missing a value on flag: --from",
        ),
        (
            "FROM a\nCOPY --link=maybe a b\n",
            "expecting boolean value for flag --link",
        ),
        (
            "FROM a\nCOPY --chown=a --chown=b a b\n",
            "Duplicate flag specified: --chown",
        ),
        ("FROM a\nADD --from=x a b\n", "unknown flag: --from"),
        (
            "FROM a\nRUN --mount=type=nfs,target=/x true\n",
            "unknown mount type \"nfs\"",
        ),
        (
            "FROM a\nRUN --network=bridge true\n",
            "unsupported network mode",
        ),
        (
            "FROM a\nCMD [\"a\", 1]\n",
            "arrays must be comprised of strings only",
        ),
        (
            "FROM a\nSHELL /bin/bash -c\n",
            "SHELL requires the arguments to be in JSON form",
        ),
        ("FROM a\nENV\n", "ENV requires at least one argument"),
        ("FROM a\nENV ONLYNAME\n", "ENV must have two arguments"),
        ("FROM a\nENV a=1 b\n", "can't find = in \"b\""),
        ("FROM a\nLABEL =x\n", "LABEL names can not be blank"),
        ("FROM a\nEXPOSE\n", "EXPOSE requires at least one argument"),
        ("FROM a\nUSER\n", "USER requires exactly one argument"),
        (
            "FROM a\nVOLUME [\"\"]\n",
            "VOLUME specified can not be an empty string",
        ),
        (
            "FROM a\nHEALTHCHECK NONE CMD x\n",
            "HEALTHCHECK NONE takes no arguments",
        ),
        (
            "FROM a\nHEALTHCHECK --interval=5 CMD x\n",
            "--interval=5: not a duration",
        ),
        (
            "FROM a\nHEALTHCHECK --timeout=10us CMD x\n",
            "cannot be less than 1ms",
        ),
        ("FROM a\nHEALTHCHECK --retries=-1 CMD x\n", "--retries=-1"),
        (
            "FROM a\nHEALTHCHECK CMD\n",
            "Missing command after HEALTHCHECK CMD",
        ),
        (
            "FROM a\nHEALTHCHECK RUN x\n",
            "Unknown type \"RUN\" in HEALTHCHECK (try CMD)",
        ),
        ("FROM a\nONBUILD ONBUILD RUN x\n", "Chaining ONBUILD"),
        (
            "FROM a\nONBUILD FROM b\n",
            "FROM isn't allowed as an ONBUILD trigger",
        ),
        (
            "FROM a\nRUN <<EOF\nnever ends\n",
            "the heredoc <<EOF has no terminating line",
        ),
        ("# escape=x\nFROM a\n", "invalid escape token \"x\""),
        (
            "# escape=`\n# escape=`\nFROM a\n",
            "only one escape parser directive",
        ),
    ];
    for (src, want) in cases {
        let got = err(src);
        assert!(got.contains(want), "{src:?}: got {got:?}, want {want:?}");
    }
}

#[test]
fn directives_only_at_the_top() {
    let df = parse("# Syntax = docker/dockerfile:1\n#escape=`\nFROM a\n", "D").unwrap();
    assert_eq!(df.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(df.directives.escape, '`');
    // After a comment (or an unknown directive) they are comments.
    for src in [
        "# hello\n# escape=`\nFROM a\n",
        "# unknown=1\n# escape=`\nFROM a\n",
        "\n# escape=`\nFROM a\n",
    ] {
        assert_eq!(parse(src, "D").unwrap().directives.escape, '\\', "{src:?}");
    }
}

#[test]
fn continuations_join_lines_and_skip_comments_and_blank_lines() {
    let df = parse(
        "FROM a\nRUN echo one \\\n# a comment\n\n    two \\  \n  three\n",
        "D",
    )
    .unwrap();
    let step = &df.stages[0].steps[0];
    assert_eq!(step.original, "RUN echo one     two   three");
    assert_eq!((step.pos.line, step.end_line), (2, 6));
    // CRLF line ends and a byte-order mark are fine.
    let df = parse("\u{feff}FROM a\r\nRUN x \\\r\n y\r\n", "D").unwrap();
    assert_eq!(df.stages[0].steps[0].original, "RUN x  y");
}

#[test]
fn heredocs_carry_their_bodies() {
    let df = parse(
        "FROM a\nRUN <<-EOT cat && cat <<'RAW'\n\tone $X\n\tEOT\ntwo $Y\nRAW\nCMD x\n",
        "D",
    )
    .unwrap();
    let steps = &df.stages[0].steps;
    let Instruction::Run(run) = &steps[0].instruction else {
        panic!("{:?}", steps[0])
    };
    assert_eq!(run.heredocs.len(), 2);
    assert_eq!(
        (
            run.heredocs[0].name.as_str(),
            run.heredocs[0].chomp,
            run.heredocs[0].expand
        ),
        ("EOT", true, true)
    );
    assert_eq!(run.heredocs[0].body, "one $X\n");
    assert_eq!(
        (run.heredocs[1].name.as_str(), run.heredocs[1].expand),
        ("RAW", false)
    );
    assert_eq!(run.heredocs[1].body, "two $Y\n");
    assert_eq!(steps[0].end_line, 6);
    assert_eq!(steps[1].pos.line, 7);
    // `<<` in other instructions is just text.
    let df = parse("FROM a\nENV X=<<EOF\nCMD y\n", "D").unwrap();
    assert_eq!(df.stages[0].steps.len(), 2);
}

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| m.get(k).cloned()
}

#[test]
fn substitution_follows_dockers_shell_rules() {
    let v = vars(&[
        ("A", "alpha"),
        ("E", ""),
        ("P", "dir/sub/file.tar.gz"),
        ("S", "a b"),
    ]);
    let x = |w: &str| expand(w, '\\', &v).unwrap_or_else(|e| format!("ERR {e}"));
    let cases = [
        ("$A", "alpha"),
        ("${A}x", "alphax"),
        ("$Ax", ""),
        ("'$A'", "$A"),
        ("\"$A\"", "alpha"),
        ("\\$A", "$A"),
        ("\"\\$A \\\" \\x\"", "$A \" \\x"),
        ("${E:-dflt}", "dflt"),
        ("${E-dflt}", ""),
        ("${U-dflt}", "dflt"),
        ("${A:+set}", "set"),
        ("${E:+set}", ""),
        ("${E+set}", "set"),
        ("${U:-${A}}", "alpha"),
        ("${P#*/}", "sub/file.tar.gz"),
        ("${P##*/}", "file.tar.gz"),
        ("${P%.*}", "dir/sub/file.tar"),
        ("${P%%.*}", "dir/sub/file"),
        ("${P/sub/SUB}", "dir/SUB/file.tar.gz"),
        ("${P//[.]/_}", "dir/sub/file_tar_gz"),
        ("${P//[!a-z]/}", "dirsubfiletargz"),
        ("${A/[/x}", "alpha"),
        ("${A//a/A}", "AlphA"),
        ("${A/a}", "lpha"),
        ("$", "$"),
        ("a$", "a$"),
        ("$1", ""),
        ("${U:?needs a value}", "ERR U: needs a value"),
        ("${E:?}", "ERR E: is not allowed to be empty"),
        ("${U?}", "ERR U: is not allowed to be unset"),
        ("${A", "ERR syntax error: missing '}'"),
        ("${}", "ERR syntax error: bad substitution"),
        ("${A:=x}", "ERR unsupported modifier (=) in substitution"),
        (
            "'open",
            "ERR unexpected end of statement while looking for matching single-quote",
        ),
        (
            "\"open",
            "ERR unexpected end of statement while looking for matching double-quote",
        ),
    ];
    for (word, want) in cases {
        assert_eq!(x(word), want, "{word}");
    }
    assert_eq!(expand("C:\\`$A", '`', &v).unwrap(), "C:\\$A");
    assert_eq!(
        expand_words("$S \"$S\" c\\ d", '\\', &v).unwrap(),
        ["a", "b", "a b", "c d"]
    );
}

#[test]
fn words_keep_quotes_for_substitution() {
    let df = parse("FROM a\nENV A=\"x y\" B=c\\ d C='$e'\n", "D").unwrap();
    let Instruction::Env(kv) = &df.stages[0].steps[0].instruction else {
        panic!()
    };
    let got: Vec<_> = kv
        .iter()
        .map(|k| (k.key.as_str(), k.value.as_deref().unwrap()))
        .collect();
    assert_eq!(got, [("A", "\"x y\""), ("B", "c\\ d"), ("C", "'$e'")]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any text parses or fails with an error that points inside the text.
    #[test]
    fn any_text_parses_or_fails_cleanly(src in "(?s)[ -~\t\n\\\\`'\"$#<{}\\[\\]=-]{0,200}") {
        if let Err(e) = parse(&src, "D") {
            prop_assert!(e.pos.line >= 1 && e.pos.line <= src.lines().count().max(1) + 1);
            prop_assert!(!e.message.is_empty());
        }
    }

    /// Lines of real keywords with random arguments: never a panic, positions in range.
    #[test]
    fn instruction_soup_never_panics(lines in proptest::collection::vec(
        ("(FROM|RUN|CMD|ENTRYPOINT|COPY|ADD|ENV|ARG|LABEL|EXPOSE|WORKDIR|USER|VOLUME|SHELL|HEALTHCHECK|ONBUILD|STOPSIGNAL|MAINTAINER|from|Run)",
         "[ -~]{0,40}"),
        0..12,
    )) {
        let src: String = lines.iter().map(|(k, a)| format!("{k} {a}\n")).collect();
        let _ = parse(&src, "D");
    }

    /// Expansion of any word never panics.
    #[test]
    fn expansion_never_panics(word in "[ -~]{0,60}") {
        let v = |k: &str| (k == "A").then(|| "a b".to_string());
        let _ = expand(&word, '\\', &v);
        let _ = expand_words(&word, '`', &v);
    }
}
