use super::*;

/// The manifest shown in the seed report (`shared/seed/`), verbatim.
const SEED_EXAMPLE: &str =
    include_str!("../../../../fixtures/seed/CHECKPOINT_MANIFEST_EXAMPLE.json");

fn canonical(json: &str) -> String {
    let value: Value = serde_json::from_str(json).unwrap();
    serde_json_canonicalizer::to_string(&value).unwrap()
}

#[test]
fn rfc8785_section_3_2_2_example() {
    let input = r#"{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }"#;
    let expected = r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#;
    assert_eq!(canonical(input), expected);
}

#[test]
fn rfc8785_section_3_2_3_sorting_by_utf16_code_units() {
    let input = r#"{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }"#;
    let expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
        \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
        \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
    assert_eq!(canonical(input), expected);
}

#[test]
fn rfc8785_appendix_b_numbers() {
    let cases: [(u64, &str); 10] = [
        (0x0000_0000_0000_0000, "0"),
        (0x8000_0000_0000_0000, "0"),
        (0x0000_0000_0000_0001, "5e-324"),
        (0x7fef_ffff_ffff_ffff, "1.7976931348623157e+308"),
        (0x4340_0000_0000_0000, "9007199254740992"),
        (0x444b_1ae4_d6e2_ef50, "1e+21"),
        (0x44b5_2d02_c7e1_4af5, "9.999999999999997e+22"),
        (0x44b5_2d02_c7e1_4af6, "1e+23"),
        (0x3eb0_c6f7_a0b5_ed8d, "0.000001"),
        (0x3eb0_c6f7_a0b5_ed8c, "9.999999999999997e-7"),
    ];
    for (bits, expected) in cases {
        let value = serde_json::json!(f64::from_bits(bits));
        assert_eq!(
            serde_json_canonicalizer::to_string(&value).unwrap(),
            expected,
            "{bits:#x}"
        );
    }
}

#[test]
fn seed_example_parses_but_is_unsorted_and_its_hash_is_not_real() {
    let parsed = Manifest::parse(SEED_EXAMPLE.as_bytes()).unwrap();
    let m = &parsed.manifest;
    assert_eq!(m.tool_id, "z-image-turbo");
    assert_eq!(m.files.len(), 3);
    assert_eq!(m.total_size(), 24356 + 324 + 4_981_532_736);
    assert!(m.signature.is_none());
    assert!(
        !parsed.hash_matches(),
        "the seed's manifest_hash is a placeholder"
    );
    assert_eq!(m.check_rules().unwrap_err().name(), "unsorted");
    m.check_rules_except_order().unwrap();
}

fn entry(path: &str) -> FileEntry {
    FileEntry {
        path: path.into(),
        sha256: "a".repeat(64),
        size: 1,
        url: None,
        chunks: None,
        extra: BTreeMap::new(),
    }
}

fn manifest(paths: &[&str]) -> Manifest {
    Manifest {
        manifest_version: "1.0".into(),
        tool_id: "demo".into(),
        tool_version: "1.0.0".into(),
        created_at: None,
        expires_at: None,
        release_notes: None,
        files: paths.iter().copied().map(entry).collect(),
        packs: None,
        manifest_hash: String::new(),
        signature: None,
        extra: BTreeMap::new(),
    }
}

#[test]
fn rules_name_what_is_wrong() {
    let cases: [(&[&str], &str); 5] = [
        (&["b", "a"], "unsorted"),
        (&["a", "a"], "path-duplicate"),
        (&["A", "a"], "path-case-collision"),
        (&["../etc/passwd"], "path-dotdot"),
        (&["C:/x"], "path-drive-letter"),
    ];
    for (paths, rule) in cases {
        assert_eq!(
            manifest(paths).check_rules().unwrap_err().name(),
            rule,
            "{paths:?}"
        );
    }
    let mut m = manifest(&["a"]);
    m.files[0].sha256 = "A".repeat(64);
    assert_eq!(m.check_rules().unwrap_err().name(), "bad-sha256");
    m = manifest(&["a"]);
    m.tool_id = "Bad".into();
    assert_eq!(m.check_rules().unwrap_err().name(), "bad-tool-id");
    m = manifest(&["a"]);
    m.expires_at = Some("tomorrow".into());
    assert_eq!(m.check_rules().unwrap_err().name(), "bad-timestamp");
    manifest(&["a", "b/c", "b/d"]).check_rules().unwrap();
}

#[test]
fn a_file_that_is_also_a_folder_of_another_is_refused() {
    for paths in [
        &["a", "a/b"][..],
        &["a", "a-b", "a.c", "a/b/c"],
        &["A/b", "a"],
        &["cafe\u{301}", "caf\u{e9}/x"],
    ] {
        let err = manifest(paths).check_rules().unwrap_err();
        assert_eq!(err.name(), "path-file-folder-conflict", "{paths:?}");
    }
    manifest(&["a-b", "a/b", "ab"]).check_rules().unwrap();
}

#[test]
fn hash_covers_unknown_fields_and_ignores_signature() {
    let m = manifest(&["a"]);
    let base = m.compute_hash();
    let mut extended = m.clone();
    extended.extra.insert("channel".into(), Value::from("beta"));
    assert_ne!(
        extended.compute_hash(),
        base,
        "unknown fields are signed too"
    );

    let mut signed = m.clone();
    signed.manifest_hash = base.clone();
    signed.signature = Some(Signature {
        algorithm: "Ed25519".into(),
        public_key_id: "0".repeat(16),
        signature: "x".into(),
    });
    assert_eq!(signed.compute_hash(), base);
    let reparsed = Manifest::parse(signed.to_pretty_json().as_bytes()).unwrap();
    assert!(reparsed.hash_matches());
    assert_eq!(reparsed.manifest, signed);
}

#[test]
fn parse_refuses_oversized_and_duplicate_keys() {
    let big = vec![b' '; usize::try_from(MAX_MANIFEST_BYTES).unwrap() + 1];
    assert!(matches!(
        Manifest::parse(&big),
        Err(ManifestError::TooLarge { .. })
    ));
    let dup = br#"{"manifest_version":"1.0","tool_id":"a","tool_id":"b","tool_version":"1.0.0","files":[],"manifest_hash":""}"#;
    assert!(
        Manifest::parse(dup)
            .unwrap_err()
            .to_string()
            .contains("duplicate key")
    );
}

#[test]
fn version_accepts_leading_v() {
    let mut m = manifest(&[]);
    m.tool_version = "v1.2.3-rc.1".into();
    assert_eq!(
        m.version().unwrap(),
        semver::Version::parse("1.2.3-rc.1").unwrap()
    );
}

#[test]
fn chunks_field_is_optional_checked_and_hashed() {
    let mut m = manifest(&["model.gguf"]);
    let without = m.compute_hash();
    assert!(
        !m.to_pretty_json().contains("chunks"),
        "absent when not set"
    );
    m.files[0].chunks = Some(super::ChunksRef {
        sha256: "b".repeat(64),
        size: 52 + 36 * 2,
    });
    m.check_rules().unwrap();
    assert_ne!(m.compute_hash(), without, "covered by manifest_hash");
    let parsed = Manifest::parse(m.to_pretty_json().as_bytes()).unwrap();
    assert_eq!(parsed.manifest, m);
    let bad = [
        ("B".repeat(64), 88, "bad-chunks"),
        ("b".repeat(64), 52, "bad-chunks"),
        ("b".repeat(64), 52 + 35, "bad-chunks"),
        ("b".repeat(64), (64 << 20) + 52 + 36, "bad-chunks"),
    ];
    for (sha256, size, rule) in bad {
        m.files[0].chunks = Some(super::ChunksRef { sha256, size });
        assert_eq!(m.check_rules().unwrap_err().name(), rule, "{size}");
    }
}

#[test]
fn latest_release_skips_pre_releases() {
    let v = |s: &str| semver::Version::parse(s).unwrap();
    let versions = [v("1.0.0"), v("1.2.0"), v("2.0.0-beta.1")];
    assert_eq!(latest_release(&versions), Some(&v("1.2.0")));
    assert_eq!(latest_release(&[v("1.0.0-rc.1")]), None);
}

#[test]
fn release_notes_are_bounded_text_covered_by_the_hash() {
    let mut m = manifest(&["a"]);
    let unsigned = m.compute_hash();
    m.release_notes = Some("<script>alert(1)</script>\n* fixed\tthings\r\n".into());
    m.check_rules().unwrap();
    assert_ne!(m.compute_hash(), unsigned, "notes are hashed, so signed");
    m.release_notes = Some("x".repeat(MAX_RELEASE_NOTES_BYTES));
    m.check_rules().unwrap();
    m.release_notes = Some("x".repeat(MAX_RELEASE_NOTES_BYTES + 1));
    assert_eq!(m.check_rules().unwrap_err().name(), "release-notes");
    m.release_notes = Some("\u{1b}[2Jgone".into());
    assert_eq!(m.check_rules().unwrap_err().name(), "release-notes");
}
