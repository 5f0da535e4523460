//! What the tables are written with: a field, a required field, a text
//! object, a string, and the three kinds of object.

use super::{Field, Kind, Rule, Schema};

pub(super) const fn field(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
    }
}

pub(super) const fn required(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: true,
    }
}

pub(super) const fn plain(max: usize) -> Kind {
    Kind::Text {
        plain_only: true,
        max,
    }
}

pub(super) const fn any_text(max: usize) -> Kind {
    Kind::Text {
        plain_only: false,
        max,
    }
}

pub(super) const fn string(max: usize) -> Kind {
    Kind::Str { min: 1, max }
}

pub(super) const fn typed(
    name: &'static str,
    fields: &'static [Field],
    rule: Option<Rule>,
) -> Schema {
    Schema {
        name,
        fields,
        rule,
        is_block: false,
        is_input: false,
    }
}

pub(super) const fn untyped(fields: &'static [Field], rule: Option<Rule>) -> Schema {
    typed("", fields, rule)
}

pub(super) const fn block(
    name: &'static str,
    fields: &'static [Field],
    rule: Option<Rule>,
) -> Schema {
    Schema {
        name,
        fields,
        rule,
        is_block: true,
        is_input: false,
    }
}
