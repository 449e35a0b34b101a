//! Property tests of the PromQL parser: random type-correct ASTs print as PromQL that
//! parses back to the same AST; arbitrary text never panics and errors point inside it.

use proptest::prelude::*;
use strata_query::promql::ast::*;
use strata_query::promql::functions;
use strata_query::promql::parse_expr;

fn label_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z_][a-z0-9_]{0,5}",
        1 => Just("by".to_owned()),
        1 => Just("offset".to_owned()),
    ]
}

fn selector() -> impl Strategy<Value = VectorSelector> {
    let matcher = (
        label_name().prop_filter("not the name", |n| n != "__name__"),
        prop::sample::select(vec![
            MatchOp::Equal,
            MatchOp::NotEqual,
            MatchOp::Regex,
            MatchOp::NotRegex,
        ]),
        prop_oneof!["(\\PC|\n|\"|\\\\){0,6}", "[a-z.*+|]{1,5}"],
    )
        .prop_filter_map("regex compiles", |(n, op, v)| Matcher::new(&n, op, &v).ok());
    (
        "[a-z_:][a-z0-9_:]{0,6}".prop_filter("not a keyword", |n| {
            let l = n.to_ascii_lowercase();
            ![
                "by",
                "without",
                "on",
                "ignoring",
                "group_left",
                "group_right",
                "bool",
                "offset",
                "and",
                "or",
                "unless",
                "atan2",
                "inf",
                "nan",
            ]
            .contains(&l.as_str())
                && AggOp::from_name(&l).is_none()
        }),
        prop::collection::vec(matcher, 0..3),
        prop_oneof![3 => Just(0i64), 1 => -100_000_000i64..100_000_000],
        prop_oneof![
            3 => Just(None),
            1 => Just(Some(At::Start)),
            1 => Just(Some(At::End)),
            1 => (-1_000_000i64..1_000_000).prop_map(|s| Some(At::Time(s * 1000))),
        ],
    )
        .prop_map(|(name, mut matchers, offset, at)| {
            matchers.push(Matcher::new("__name__", MatchOp::Equal, &name).expect("plain"));
            VectorSelector {
                name: Some(name),
                matchers,
                offset,
                at,
            }
        })
}

fn range() -> impl Strategy<Value = i64> {
    (1i64..100_000).prop_map(|s| s * 1000)
}

fn paren(e: Expr) -> Expr {
    match e {
        Expr::Binary(_) | Expr::Unary(..) => Expr::Paren(Box::new(e)),
        e => e,
    }
}

fn scalar() -> impl Strategy<Value = Expr> {
    prop_oneof![
        (0.0f64..1e6).prop_map(Expr::Number),
        Just(Expr::Number(f64::INFINITY)),
        Just(Expr::Call(Call {
            func: functions::lookup("time").expect("time"),
            args: vec![],
        })),
    ]
}

fn vector() -> impl Strategy<Value = Expr> {
    let leaf = selector().prop_map(Expr::Vector);
    leaf.prop_recursive(4, 24, 3, |inner| {
        let labels = || prop::collection::vec(label_name(), 0..3);
        prop_oneof![
            (
                selector(),
                range(),
                prop::sample::select(vec![
                    "rate",
                    "increase",
                    "max_over_time",
                    "changes",
                    "deriv"
                ])
            )
                .prop_map(|(v, r, f)| Expr::Call(Call {
                    func: functions::lookup(f).expect("function"),
                    args: vec![Expr::Matrix(MatrixSelector {
                        vector: v,
                        range: r
                    })],
                })),
            (inner.clone(), range(), prop::option::of(range())).prop_map(|(e, r, s)| Expr::Call(
                Call {
                    func: functions::lookup("avg_over_time").expect("function"),
                    args: vec![Expr::Subquery(Subquery {
                        expr: Box::new(paren(e)),
                        range: r,
                        step: s,
                        offset: 0,
                        at: None,
                    })],
                }
            )),
            (
                prop::sample::select(vec![
                    AggOp::Sum,
                    AggOp::Avg,
                    AggOp::Max,
                    AggOp::Stddev,
                    AggOp::Group
                ]),
                inner.clone(),
                any::<bool>(),
                labels(),
                any::<bool>()
            )
                .prop_map(|(op, e, without, grouping, has)| Expr::Aggregate(Box::new(
                    Aggregate {
                        op,
                        expr: e,
                        param: None,
                        without: has && without,
                        grouping: if has { grouping } else { vec![] },
                        has_grouping: has,
                    }
                ))),
            (inner.clone(), scalar()).prop_map(|(e, k)| Expr::Aggregate(Box::new(Aggregate {
                op: AggOp::Topk,
                expr: e,
                param: Some(k),
                without: false,
                grouping: vec![],
                has_grouping: false,
            }))),
            (
                inner.clone(),
                prop::sample::select(vec![
                    BinOp::Add,
                    BinOp::Sub,
                    BinOp::Mul,
                    BinOp::Div,
                    BinOp::Pow,
                    BinOp::Mod,
                    BinOp::Atan2,
                    BinOp::Gt,
                    BinOp::Le
                ]),
                scalar(),
                any::<bool>()
            )
                .prop_map(|(v, op, s, flip)| {
                    let (lhs, rhs) = if flip { (s, paren(v)) } else { (paren(v), s) };
                    Expr::Binary(Box::new(Binary {
                        op,
                        lhs,
                        rhs,
                        return_bool: false,
                        matching: None,
                    }))
                }),
            (
                inner.clone(),
                inner.clone(),
                prop::sample::select(vec![
                    BinOp::Add,
                    BinOp::Eq,
                    BinOp::And,
                    BinOp::Or,
                    BinOp::Unless,
                    BinOp::Pow
                ]),
                any::<bool>(),
                labels(),
                labels(),
                0u8..3,
                any::<bool>(),
            )
                .prop_map(|(a, b, op, on, ls, inc, card, rb)| {
                    let card = if op.is_set() {
                        Cardinality::ManyToMany
                    } else {
                        [
                            Cardinality::OneToOne,
                            Cardinality::ManyToOne,
                            Cardinality::OneToMany,
                        ][card as usize]
                    };
                    let grouped = matches!(card, Cardinality::ManyToOne | Cardinality::OneToMany);
                    let include: Vec<String> = if grouped {
                        inc.into_iter()
                            .filter(|l| !(on && ls.contains(l)))
                            .collect()
                    } else {
                        vec![]
                    };
                    Expr::Binary(Box::new(Binary {
                        op,
                        lhs: paren(a),
                        rhs: paren(b),
                        return_bool: rb && op.is_comparison(),
                        matching: Some(VectorMatching {
                            card,
                            on,
                            labels: ls,
                            include,
                            explicit: true,
                        }),
                    }))
                }),
            inner
                .clone()
                .prop_map(|e| Expr::Unary(UnaryOp::Neg, Box::new(paren(e)))),
            inner.prop_map(|e| Expr::Paren(Box::new(e))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn printed_asts_parse_back(e in vector()) {
        let text = e.to_string();
        let back = parse_expr(&text).map_err(|err| TestCaseError::fail(format!("{text}: {err}")))?;
        prop_assert_eq!(&back, &e, "{}", text);
    }

    #[test]
    fn any_text_parses_or_errors_inside_it(s in "(\\PC|\n){0,40}") {
        if let Err(e) = parse_expr(&s) {
            prop_assert!(e.line >= 1 && e.line <= s.matches('\n').count() + 1);
            prop_assert!(e.column >= 1);
        }
    }

    #[test]
    fn promql_like_text_never_panics(s in "[a-z_(){}\\[\\]=~!\"0-9.,:@ +*/%^<>-]{0,40}") {
        let _ = parse_expr(&s);
    }
}
