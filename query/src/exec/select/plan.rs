//! Planning a `SELECT` for one measurement: fields and wildcards expanded, projections
//! compiled into [`Proj`] trees over aggregate slots (aggregate queries) or fields and
//! tags (raw queries), the bucket interval and the group keys.

use super::*;

/// A compiled projection.
#[derive(Debug, Clone)]
pub(super) enum Proj {
    /// The value of aggregate slot `n` in the bucket.
    Agg(usize),
    /// A field's value in the row.
    Field(String),
    /// A tag's value (raw queries).
    Tag(String),
    Lit(Value),
    Bin(BinaryOp, Box<Proj>, Box<Proj>),
    Math(MathFn, Box<Proj>),
    Tr(Transform, Box<Proj>),
}

impl Proj {
    pub(super) fn has(&self, f: &dyn Fn(&Proj) -> bool) -> bool {
        f(self)
            || match self {
                Proj::Bin(_, a, b) => a.has(f) || b.has(f),
                Proj::Math(_, a) | Proj::Tr(_, a) => a.has(f),
                _ => false,
            }
    }

    pub(super) fn fields(&self, out: &mut Vec<String>) {
        match self {
            Proj::Field(f) if !out.contains(f) => out.push(f.clone()),
            Proj::Bin(_, a, b) => {
                a.fields(out);
                b.fields(out);
            }
            Proj::Math(_, a) | Proj::Tr(_, a) => a.fields(out),
            _ => {}
        }
    }
}

/// An aggregate slot: a function over one field.
#[derive(Debug, Clone)]
pub(super) struct Slot {
    pub(super) kind: AggKind,
    pub(super) field: String,
    pub(super) ty: FieldType,
    /// `top(f, tag, N)`: the best point per value of this tag.
    pub(super) by_tag: Option<String>,
}

/// What one measurement's part of the statement computes.
pub(super) struct Plan {
    pub(super) columns: Vec<String>,
    pub(super) projs: Vec<Proj>,
    pub(super) slots: Vec<Slot>,
    pub(super) group_keys: Vec<String>,
    pub(super) interval: i64,
    pub(super) offset: i64,
    /// A lone selector with tag or field columns beside it (`max(x), host`,
    /// `top(x, host, 3)`): rows are the selected points themselves.
    pub(super) point_rows: bool,
}

impl Plan {
    /// Buckets a transformation over aggregates reads before the first one shown: one
    /// for derivatives, differences, elapsed and moving averages (as InfluxDB does).
    pub(super) fn looking_back_slots(&self) -> Vec<usize> {
        fn aggs(p: &Proj, out: &mut Vec<usize>) {
            match p {
                Proj::Agg(i) => out.push(*i),
                Proj::Bin(_, a, b) => {
                    aggs(a, out);
                    aggs(b, out);
                }
                Proj::Math(_, a) | Proj::Tr(_, a) => aggs(a, out),
                _ => {}
            }
        }
        fn walk(p: &Proj, out: &mut Vec<usize>) {
            match p {
                Proj::Tr(Transform::CumulativeSum, a) => walk(a, out),
                Proj::Tr(_, a) => aggs(a, out),
                Proj::Bin(_, a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                Proj::Math(_, a) => walk(a, out),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for p in &self.projs {
            walk(p, &mut out);
        }
        out
    }

    pub(super) fn extra_intervals(&self) -> i64 {
        fn walk(p: &Proj) -> i64 {
            match p {
                Proj::Tr(t, a) => {
                    let own = match t {
                        // InfluxDB looks back one bucket whatever N is.
                        Transform::CumulativeSum => 0,
                        _ => 1,
                    };
                    own.max(walk(a))
                }
                Proj::Bin(_, a, b) => walk(a).max(walk(b)),
                Proj::Math(_, a) => walk(a),
                _ => 0,
            }
        }
        self.projs.iter().map(walk).max().unwrap_or(0)
    }
}

/// The measurement being planned: its tag keys and field types.
pub(super) struct Meta {
    pub(super) tag_keys: HashSet<String>,
    pub(super) fields: BTreeMap<String, FieldType>,
}

pub(super) fn call_name(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// InfluxDB's column name for an expression: a variable's name, a call's function name,
/// the names of a binary expression's parts joined by `_`.
pub(super) fn expr_name(e: &Expr) -> String {
    match e {
        Expr::Var { name, .. } => name.clone(),
        Expr::Call { name, .. } => call_name(name),
        Expr::Binary { lhs, rhs, .. } => {
            let (a, b) = (expr_name(lhs), expr_name(rhs));
            match (a.is_empty(), b.is_empty()) {
                (true, _) => b,
                (_, true) => a,
                _ => format!("{a}_{b}"),
            }
        }
        _ => String::new(),
    }
}

/// Expands `*` and regexes in the projection list into concrete expressions with names.
pub(super) fn expand_fields(
    sel: &Select,
    meta: &Meta,
    group_keys: &[String],
    regexes: &Regexes,
) -> Result<Vec<(Expr, String, bool)>, QueryError> {
    let mut out = Vec::new();
    let field_var = |name: &str| Expr::Var {
        name: name.to_owned(),
        cast: None,
    };
    for f in &sel.fields {
        match &f.expr {
            Expr::Wildcard(cast) => {
                let mut names: Vec<&String> = Vec::new();
                if *cast != Some(Cast::Tag) {
                    names.extend(meta.fields.keys());
                }
                if *cast != Some(Cast::Field) {
                    names.extend(meta.tag_keys.iter().filter(|k| !group_keys.contains(k)));
                }
                names.sort();
                names.dedup();
                out.extend(names.into_iter().map(|n| (field_var(n), n.clone(), false)));
            }
            Expr::Regex(p) => {
                let re = regexes
                    .get(p)
                    .ok_or_else(|| QueryError::Invalid(format!("regex /{p}/")))?;
                let mut names: Vec<&String> = meta
                    .fields
                    .keys()
                    .chain(meta.tag_keys.iter().filter(|k| !group_keys.contains(k)))
                    .filter(|n| re.is_match(n))
                    .collect();
                names.sort();
                names.dedup();
                out.extend(names.into_iter().map(|n| (field_var(n), n.clone(), false)));
            }
            Expr::Call { name, args }
                if matches!(args.first(), Some(Expr::Wildcard(_) | Expr::Regex(_))) =>
            {
                let matching: Vec<&String> = match &args[0] {
                    Expr::Regex(p) => {
                        let re = regexes
                            .get(p)
                            .ok_or_else(|| QueryError::Invalid(format!("regex /{p}/")))?;
                        meta.fields.keys().filter(|n| re.is_match(n)).collect()
                    }
                    _ => meta.fields.keys().collect(),
                };
                let kind = AggKind::from_call(name, args)?;
                for field in matching {
                    let ty = meta.fields[field];
                    if kind.is_some_and(|k| !k.accepts(ty)) {
                        continue;
                    }
                    let mut args = args.clone();
                    args[0] = field_var(field);
                    let e = Expr::Call {
                        name: name.clone(),
                        args,
                    };
                    let n = format!("{}_{field}", call_name(name));
                    out.push((e, n, false));
                }
            }
            e => out.push(match &f.alias {
                Some(a) => (e.clone(), a.clone(), true),
                None => (e.clone(), expr_name(e), false),
            }),
        }
    }
    Ok(out)
}

/// Compiles one projection expression.
pub(super) fn compile(
    e: &Expr,
    meta: &Meta,
    slots: &mut Vec<Slot>,
    in_agg: bool,
) -> Result<Proj, QueryError> {
    Ok(match e {
        Expr::Var { name, cast } => {
            if name.eq_ignore_ascii_case("time") {
                return Err(QueryError::invalid_at(
                    Token::Word(name.clone()),
                    "time is always the first column; select a field",
                ));
            }
            let is_tag = match cast {
                Some(Cast::Tag) => true,
                Some(Cast::Field) => false,
                _ => !meta.fields.contains_key(name) && meta.tag_keys.contains(name),
            };
            if is_tag {
                Proj::Tag(name.clone())
            } else {
                Proj::Field(name.clone())
            }
        }
        Expr::Integer(i) => Proj::Lit(Value::Integer(*i)),
        Expr::Float(f) => Proj::Lit(Value::Float(*f)),
        Expr::String(s) => Proj::Lit(Value::String(s.clone())),
        Expr::Bool(b) => Proj::Lit(Value::Boolean(*b)),
        Expr::Duration(d) => Proj::Lit(Value::Integer(d.0)),
        Expr::Binary { op, lhs, rhs }
            if matches!(
                op,
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod
            ) =>
        {
            Proj::Bin(
                *op,
                Box::new(compile(lhs, meta, slots, in_agg)?),
                Box::new(compile(rhs, meta, slots, in_agg)?),
            )
        }
        Expr::Call { name, args } => {
            if let Some(kind) = AggKind::from_call(name, args)? {
                if in_agg {
                    return Err(QueryError::Unsupported(format!(
                        "{e}: an aggregate inside an aggregate needs a subquery, which Strata does not run"
                    )));
                }
                let field = match args.get(kind.field_arg()) {
                    Some(Expr::Var { name: f, .. }) => f.clone(),
                    Some(other) => {
                        return Err(QueryError::invalid_at(
                            Token::Call(name.clone()),
                            format!(
                                "expected field argument in {}(), got {other}",
                                call_name(name)
                            ),
                        ));
                    }
                    None => {
                        return Err(QueryError::invalid_at(
                            Token::Call(name.clone()),
                            format!(
                                "invalid number of arguments for {}, expected at least 1, got 0",
                                call_name(name)
                            ),
                        ));
                    }
                };
                let Some(&ty) = meta.fields.get(&field) else {
                    // A field this measurement lacks: the slot yields nothing.
                    slots.push(Slot {
                        kind,
                        field,
                        ty: FieldType::Float,
                        by_tag: None,
                    });
                    return Ok(Proj::Agg(slots.len() - 1));
                };
                if !kind.accepts(ty) {
                    return Err(QueryError::invalid_at(
                        Token::Call(name.clone()),
                        format!(
                            "{e}: {} does not apply to {} field {field}",
                            call_name(name),
                            ty_name(ty)
                        ),
                    ));
                }
                let by_tag = match (kind, args.len()) {
                    (AggKind::Top(_) | AggKind::Bottom(_), 3) => match &args[1] {
                        Expr::Var { name: t, .. } => Some(t.clone()),
                        other => {
                            return Err(QueryError::invalid_at(
                                Token::Call(name.clone()),
                                format!(
                                    "expected a tag as the second argument of {}(), got {other}",
                                    call_name(name)
                                ),
                            ));
                        }
                    },
                    _ => None,
                };
                slots.push(Slot {
                    kind,
                    field,
                    ty,
                    by_tag,
                });
                Proj::Agg(slots.len() - 1)
            } else if let Some(t) = Transform::from_call(name, args)? {
                Proj::Tr(t, Box::new(compile(&args[0], meta, slots, in_agg)?))
            } else if let Some(m) = MathFn::from_call(name, args)? {
                Proj::Math(m, Box::new(compile(&args[0], meta, slots, in_agg)?))
            } else {
                return Err(QueryError::invalid_at(
                    Token::Call(name.clone()),
                    format!("undefined function {}()", call_name(name)),
                ));
            }
        }
        other => {
            return Err(QueryError::Invalid(format!(
                "{other} cannot be selected: expected a field, a tag, a function call or arithmetic"
            )));
        }
    })
}

pub(crate) fn ty_name(t: FieldType) -> &'static str {
    match t {
        FieldType::Float => "float",
        FieldType::Integer => "integer",
        FieldType::Unsigned => "unsigned",
        FieldType::String => "string",
        FieldType::Boolean => "boolean",
    }
}

/// Plans `sel` for one measurement (`meta`); `expand_meta` (every measurement of the
/// statement) decides what `*` and regexes expand to, so all series share columns.
pub(super) fn plan(
    sel: &Select,
    meta: &Meta,
    expand_meta: &Meta,
    regexes: &Regexes,
) -> Result<Plan, QueryError> {
    let mut group_keys: Vec<String> = Vec::new();
    let (mut interval, mut offset) = (0i64, 0i64);
    let mut times = 0;
    for d in &sel.group_by {
        match d {
            Dimension::Time {
                interval: i,
                offset: o,
            } => {
                times += 1;
                if i.0 < 0 {
                    return Err(QueryError::invalid_at(
                        Token::Call("time".into()),
                        "GROUP BY time() needs a positive interval",
                    ));
                }
                // time(0s) is accepted and groups nothing, as in InfluxDB.
                if i.0 > 0 {
                    interval = i.0;
                    offset = o.map_or(0, |o| o.0).rem_euclid(i.0);
                }
            }
            Dimension::Tag(k) => group_keys.push(k.clone()),
            Dimension::Regex(p) => {
                let re = regexes
                    .get(p)
                    .ok_or_else(|| QueryError::Invalid(format!("regex /{p}/")))?;
                group_keys.extend(meta.tag_keys.iter().filter(|k| re.is_match(k)).cloned());
            }
            Dimension::All => group_keys.extend(meta.tag_keys.iter().cloned()),
        }
    }
    if times > 1 {
        return Err(QueryError::Invalid(
            "only one GROUP BY time() is allowed".into(),
        ));
    }
    group_keys.sort();
    group_keys.dedup();
    let fields = expand_fields(sel, expand_meta, &group_keys, regexes)?;
    let mut slots = Vec::new();
    let mut projs = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    let mut used: std::collections::HashMap<String, usize> = Default::default();
    for (e, name, aliased) in &fields {
        projs.push(compile(e, meta, &mut slots, false)?);
        // InfluxDB's de-duplication: aliases are kept as written; a generated name used
        // before gets `_1`, `_2`, … (counted per name).
        if *aliased {
            columns.push(name.clone());
            continue;
        }
        let k = used.entry(name.clone()).or_insert(0);
        columns.push(if *k == 0 {
            name.clone()
        } else {
            format!("{name}_{k}")
        });
        *k += 1;
    }
    if projs.is_empty() {
        return Err(QueryError::Invalid(
            "at least 1 non-time field must be queried".into(),
        ));
    }
    if projs
        .iter()
        .any(|p| !p.has(&|q| matches!(q, Proj::Agg(_) | Proj::Field(_) | Proj::Tag(_))))
    {
        return Err(QueryError::Invalid(
            "field must contain at least one variable".into(),
        ));
    }
    let aggregate = !slots.is_empty();
    let mut point_rows = false;
    if aggregate {
        // `top(f, tag, N)` shows the tag beside the value.
        if let Some(pos) = projs.iter().position(|p| matches!(p, Proj::Agg(_)))
            && let Proj::Agg(s) = projs[pos]
            && let Some(tag) = slots[s].by_tag.clone()
        {
            projs.insert(pos + 1, Proj::Tag(tag.clone()));
            columns.insert(pos + 1, tag.clone());
            // A later column of the same generated name is a repeat: `tag_1`, ….
            let mut k = 1;
            for (i, c) in columns.iter_mut().enumerate().skip(pos + 2) {
                if *c == tag && !fields.get(i - 1).is_some_and(|f| f.2) {
                    *c = format!("{tag}_{k}");
                    k += 1;
                }
            }
        }
        let lone_selector = slots.iter().all(|s| {
            s.kind == slots[0].kind && s.field == slots[0].field && s.by_tag == slots[0].by_tag
        }) && matches!(
            slots[0].kind,
            AggKind::Min
                | AggKind::Max
                | AggKind::First
                | AggKind::Last
                | AggKind::Percentile(_)
                | AggKind::Top(_)
                | AggKind::Bottom(_)
        );
        let extras = projs
            .iter()
            .any(|p| p.has(&|q| matches!(q, Proj::Field(_) | Proj::Tag(_))));
        if extras {
            // Beside a lone selector, fields and tags are read at the selected point.
            let plain = projs.iter().all(|p| {
                matches!(p, Proj::Field(_) | Proj::Tag(_))
                    || !p.has(&|q| matches!(q, Proj::Field(_) | Proj::Tag(_) | Proj::Tr(..)))
            });
            if !lone_selector || !plain {
                return Err(QueryError::Invalid(
                    "mixing aggregate and non-aggregate queries is not supported".into(),
                ));
            }
            point_rows = true;
        }
        let multi = slots
            .iter()
            .any(|s| matches!(s.kind, AggKind::Top(_) | AggKind::Bottom(_)));
        let only_top = projs
            .iter()
            .filter(|p| !matches!(p, Proj::Field(_) | Proj::Tag(_)))
            .count()
            == 1
            && projs.iter().any(|p| matches!(p, Proj::Agg(0)));
        if let (AggKind::Top(k) | AggKind::Bottom(k), Some(l)) = (slots[0].kind, sel.limit)
            && k as u64 > l
        {
            let f = if matches!(slots[0].kind, AggKind::Top(_)) {
                "top"
            } else {
                "bottom"
            };
            return Err(QueryError::invalid_at(
                Token::Call(f.into()),
                format!(
                    "limit ({k}) in {f} function can not be larger than the LIMIT ({l}) in the select statement"
                ),
            ));
        }
        if multi && (slots.len() > 1 || !only_top) {
            let f = if slots.iter().any(|s| matches!(s.kind, AggKind::Top(_))) {
                "top"
            } else {
                "bottom"
            };
            return Err(QueryError::invalid_at(
                Token::Call(f.into()),
                format!("selector function {f}() cannot be combined with other functions"),
            ));
        }
        if interval == 0 && projs.iter().any(|p| p.has(&|q| matches!(q, Proj::Tr(..)))) {
            return Err(QueryError::Invalid(
                "aggregate function required inside the call to a transformation needs GROUP BY time()".into(),
            ));
        }
    } else {
        if interval != 0 {
            return Err(QueryError::Invalid(
                "GROUP BY requires at least one aggregate function".into(),
            ));
        }
        if !projs
            .iter()
            .any(|p| p.has(&|q| matches!(q, Proj::Field(_))))
        {
            return Err(QueryError::Invalid(
                "at least 1 non-time field must be queried".into(),
            ));
        }
    }
    Ok(Plan {
        columns,
        projs,
        slots,
        group_keys,
        interval,
        offset,
        point_rows,
    })
}
