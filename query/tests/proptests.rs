//! Property tests: random ASTs print and parse back equal; arbitrary text never panics.

use proptest::prelude::*;
use strata_query::ast::*;
use strata_query::parse;

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z_][a-zA-Z0-9_]{0,6}",
        1 => "[a-zA-Z0-9_ \"\\\\.,;'/*µ-]{0,6}",
        1 => Just("select".to_owned()),
        1 => Just("true".to_owned()),
        1 => Just("time".to_owned()),
    ]
}

fn func_name() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,8}".prop_filter("bare", |n| is_bare_ident(n))
}

fn pattern() -> impl Strategy<Value = String> {
    "[a-z0-9.^$|()+?/ \\[\\]-]{0,6}"
}

fn cast() -> impl Strategy<Value = Option<Cast>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(Cast::Field)),
        1 => Just(Some(Cast::Tag)),
        1 => Just(Some(Cast::Integer)),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        (name(), cast()).prop_map(|(name, cast)| Expr::Var { name, cast }),
        cast().prop_map(Expr::Wildcard),
        pattern().prop_map(Expr::Regex),
        any::<i64>().prop_map(Expr::Integer),
        any::<f64>()
            .prop_filter("finite", |v| v.is_finite())
            .prop_map(Expr::Float),
        "(\\PC|\n){0,8}".prop_map(Expr::String),
        any::<bool>().prop_map(Expr::Bool),
        any::<i64>().prop_map(|d| Expr::Duration(Duration(d))),
        Just(Expr::Call {
            name: "now".into(),
            args: vec![]
        }),
    ]
}

fn op() -> impl Strategy<Value = BinaryOp> {
    use BinaryOp::*;
    prop::sample::select(vec![
        Or,
        And,
        Eq,
        NotEq,
        Lt,
        LtEq,
        Gt,
        GtEq,
        RegexMatch,
        RegexNotMatch,
        Add,
        Sub,
        Mul,
        Div,
        Mod,
    ])
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            (op(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| Expr::Binary {
                op,
                lhs: Box::new(l),
                rhs: Box::new(r)
            }),
            (func_name(), prop::collection::vec(inner, 0..4))
                .prop_map(|(name, args)| Expr::Call { name, args }),
        ]
    })
}

fn measurement() -> impl Strategy<Value = MeasurementName> {
    prop_oneof![
        3 => name().prop_map(MeasurementName::Name),
        1 => pattern().prop_map(MeasurementName::Regex),
    ]
}

fn source() -> impl Strategy<Value = Source> {
    (
        prop::option::of(name()),
        prop::option::of(name()),
        measurement(),
    )
        .prop_map(|(database, retention_policy, name)| Source {
            database,
            retention_policy,
            name,
        })
}

fn dimension() -> impl Strategy<Value = Dimension> {
    prop_oneof![
        (any::<i64>(), prop::option::of(any::<i64>())).prop_map(|(i, o)| Dimension::Time {
            interval: Duration(i),
            offset: o.map(Duration),
        }),
        name().prop_map(Dimension::Tag),
        pattern().prop_map(Dimension::Regex),
        Just(Dimension::All),
    ]
}

fn fill() -> impl Strategy<Value = Fill> {
    prop_oneof![
        Just(Fill::Null),
        Just(Fill::None),
        Just(Fill::Previous),
        Just(Fill::Linear),
        any::<i64>().prop_map(Fill::Integer),
        (-1e9f64..1e9).prop_map(Fill::Float),
    ]
}

fn select() -> impl Strategy<Value = Statement> {
    let fields = prop::collection::vec(
        (expr(), prop::option::of(name())).prop_map(|(expr, alias)| Field { expr, alias }),
        1..4,
    );
    // Counts the text can carry: past i64::MAX they read as i64::MAX (InfluxDB's reading).
    let limits = prop::array::uniform4(prop::option::of(0..=i64::MAX as u64));
    (
        fields,
        prop::collection::vec(source(), 1..3),
        prop::option::of(expr()),
        prop::collection::vec(dimension(), 0..3),
        prop::option::of(fill()),
        prop::option::of(prop::bool::ANY.prop_map(|d| if d { Order::Desc } else { Order::Asc })),
        limits,
        prop::option::of("\\PC{0,10}"),
    )
        .prop_map(
            |(fields, sources, condition, group_by, fill, order, [l, o, sl, so], tz)| {
                Statement::Select(Box::new(Select {
                    fields,
                    sources,
                    condition,
                    group_by,
                    fill,
                    order,
                    limit: l,
                    offset: o,
                    slimit: sl,
                    soffset: so,
                    tz,
                }))
            },
        )
}

fn filter(with_from: bool) -> impl Strategy<Value = ShowFilter> {
    (
        prop::collection::vec(source(), 0..if with_from { 3 } else { 1 }),
        prop::option::of(expr()),
        prop::option::of(0..=i64::MAX as u64),
        prop::option::of(0..=i64::MAX as u64),
    )
        .prop_map(|(from, condition, limit, offset)| ShowFilter {
            from,
            condition,
            limit,
            offset,
        })
}

fn tag_key() -> impl Strategy<Value = TagKeyMatch> {
    prop_oneof![
        name().prop_map(TagKeyMatch::Eq),
        name().prop_map(TagKeyMatch::NotEq),
        prop::collection::vec(name(), 1..4).prop_map(TagKeyMatch::In),
        pattern().prop_map(TagKeyMatch::Regex),
        pattern().prop_map(TagKeyMatch::NotRegex),
    ]
}

fn other_statement() -> impl Strategy<Value = Statement> {
    prop_oneof![
        (prop::option::of(measurement()), filter(false))
            .prop_map(|(with, filter)| Statement::ShowMeasurements { with, filter }),
        filter(true).prop_map(Statement::ShowTagKeys),
        (tag_key(), filter(true))
            .prop_map(|(key, filter)| Statement::ShowTagValues { key, filter }),
        prop::collection::vec(source(), 0..3).prop_map(|from| Statement::ShowFieldKeys { from }),
        filter(true).prop_map(Statement::ShowSeries),
        Just(Statement::ShowDatabases),
        prop::option::of(name()).prop_map(|database| Statement::ShowRetentionPolicies { database }),
        Just(Statement::ShowStats),
        name().prop_map(|name| Statement::CreateDatabase { name }),
        (prop::option::of(source()), prop::option::of(expr()))
            .prop_filter("FROM or WHERE", |(f, c)| f.is_some() || c.is_some())
            .prop_map(|(from, condition)| Statement::Delete { from, condition }),
        name().prop_map(|name| Statement::DropMeasurement { name }),
        (
            prop::collection::vec(source(), 0..3),
            prop::option::of(expr())
        )
            .prop_filter("FROM or WHERE", |(f, c)| !f.is_empty() || c.is_some())
            .prop_map(|(from, condition)| Statement::DropSeries { from, condition }),
    ]
}

/// Fix up what the grammar cannot express: a database without a measurement name.
fn normalise(mut s: Statement) -> Statement {
    if let Statement::ShowMeasurements { filter, .. } = &mut s {
        filter.from.clear();
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_asts_round_trip(statements in prop::collection::vec(
        prop_oneof![select(), other_statement()].prop_map(normalise), 1..4)
    ) {
        let text: Vec<String> = statements.iter().map(ToString::to_string).collect();
        let text = text.join(";\n");
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}\n{e}")))?;
        prop_assert_eq!(&parsed, &statements, "{}", text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse(&text);
    }

    #[test]
    fn query_like_text_never_panics(
        words in prop::collection::vec(prop::sample::select(vec![
            "SELECT", "FROM", "WHERE", "GROUP", "BY", "time", "(", ")", "1h", "-", "+", "*",
            "/", "/re/", "'s'", "\"q\"", ",", ";", "AND", "OR", "=", "=~", "FILL", "null",
            "LIMIT", "1", "2.5", "SHOW", "TAG", "VALUES", "WITH", "KEY", "IN", "DELETE",
            "DROP", "SERIES", "::", "field", "now()", "--", "/*", "*/", "\n", "tz", "x",
        ]), 0..40)
    ) {
        let text = words.join(" ");
        let _ = parse(&text);
        let _ = parse(&words.concat());
    }
}
