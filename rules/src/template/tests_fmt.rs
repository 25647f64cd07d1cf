//! Tests of Go's `fmt` as templates reach it: `printf` verbs, flags, width, precision,
//! argument indexes and the `%!` complaints, and `print`'s spacing.

use super::format::{sprint, sprintf};
use super::value::Value;

fn i(v: i64) -> Value {
    Value::Int(v)
}

fn f(v: f64) -> Value {
    Value::Float(v)
}

fn s(v: &str) -> Value {
    Value::string(v)
}

#[test]
fn printf_integers() {
    for (format, args, want) in [
        ("%d", vec![i(-5)], "-5"),
        ("%03d", vec![i(7)], "007"),
        ("%05d", vec![i(-5)], "-0005"),
        ("%+d % d", vec![i(5), i(5)], "+5  5"),
        (
            "%x %X %#x %o %#o %O %b",
            vec![i(255), i(255), i(255), i(8), i(8), i(8), i(5)],
            "ff FF 0xff 10 010 0o10 101",
        ),
        ("%x", vec![i(-255)], "-ff"),
        ("%.3d|%6.3d|%.0d|", vec![i(7), i(7), i(0)], "007|   007||"),
        ("%-5d|%5d|", vec![i(42), i(42)], "42   |   42|"),
        (
            "%c %q %U %#U",
            vec![i(65), i(65), i(65), i(65)],
            "A 'A' U+0041 U+0041 'A'",
        ),
        ("%v %d", vec![Value::Byte(200), Value::Byte(7)], "200 7"),
    ] {
        assert_eq!(sprintf(format, &args), want, "{format}");
    }
}

#[test]
fn printf_floats() {
    for (format, args, want) in [
        (
            "%v %v %v",
            vec![f(1.0), f(1234567.0), f(0.00001234)],
            "1 1.234567e+06 1.234e-05",
        ),
        (
            "%f %.2f %.0f %.0f",
            vec![f(3.14149), f(1.005), f(2.5), f(3.5)],
            "3.141490 1.00 2 4",
        ),
        (
            "%5.1f|%-8.3f|%08.3f",
            vec![f(3.14149), f(2.0), f(-3.14149)],
            "  3.1|2.000   |-003.141",
        ),
        (
            "%e %.3e %E",
            vec![f(1234.5678), f(1234.5678), f(0.0)],
            "1.234568e+03 1.235e+03 0.000000E+00",
        ),
        (
            "%g %g %g %.3g %G",
            vec![f(1e21), f(100000.0), f(1000000.0), f(1234.0), f(1e-7)],
            "1e+21 100000 1e+06 1.23e+03 1E-07",
        ),
        ("%+.2e", vec![f(12345.0)], "+1.23e+04"),
        (
            "%#g %#.3g %#.0f",
            vec![f(1.0), f(1.0), f(2.0)],
            "1.00000 1.00 2.",
        ),
        ("%6.2v|", vec![f(3.14149)], "   3.1|"),
        ("%5.2f%%", vec![f(99.5)], "99.50%"),
        (
            "%x %b",
            vec![f(1.0), f(1.0)],
            "0x1p+00 4503599627370496p-52",
        ),
        (
            "%f %5.1f %05f %+f",
            vec![
                f(f64::INFINITY),
                f(f64::NAN),
                f(f64::NEG_INFINITY),
                f(f64::NAN),
            ],
            "+Inf   NaN  -Inf +NaN",
        ),
        ("%.4g", vec![f(1234.5)], "1234"),
        ("%.4g", vec![f(12345.0)], "1.234e+04"),
        ("%.4g%%", vec![f(12.3456)], "12.35%"),
    ] {
        assert_eq!(sprintf(format, &args), want, "{format}");
    }
}

#[test]
fn printf_strings_and_others() {
    let labels = Value::Labels([("a".to_string(), "1".to_string())].into());
    for (format, args, want) in [
        (
            "%s|%v|%q",
            vec![s("a"), s("b"), s("a\"b")],
            "a|b|\"a\\\"b\"",
        ),
        (
            "%x % x %#x %X",
            vec![s("hi"), s("hi"), s("hi"), s("hé")],
            "6869 68 69 0x6869 68C3A9",
        ),
        (
            "%.2s|%5.1s|%-5s|%05s",
            vec![s("abc"), s("abc"), s("cd"), s("ab")],
            "ab|    a|cd   |000ab",
        ),
        ("%#q %+q", vec![s("a"), s("é")], "`a` \"\\u00e9\""),
        (
            "%t %5t",
            vec![Value::Bool(true), Value::Bool(false)],
            "true false",
        ),
        (
            "%v %d",
            vec![labels.clone(), labels.clone()],
            "map[a:1] map[%!d(string=a):%!d(string=1)]",
        ),
        ("%v|%d", vec![Value::Nil, Value::Nil], "<nil>|%!d(<nil>)"),
        (
            "%T %T %T %T %T %T",
            vec![i(1), f(1.5), s("s"), Value::Bool(true), labels, Value::Nil],
            "int float64 string bool map[string]string <nil>",
        ),
        (
            "%v %s %d",
            vec![
                Value::Duration(1_500_000_000),
                Value::Time(0),
                Value::Duration(5),
            ],
            "1.5s 1970-01-01 00:00:00 +0000 UTC 5",
        ),
        (
            "%#v %#v %#v",
            vec![s("x"), i(1), Value::List(vec![i(1), s("a")])],
            "\"x\" 1 []interface {}{1, \"a\"}",
        ),
    ] {
        assert_eq!(sprintf(format, &args), want, "{format}");
    }
}

#[test]
fn printf_complaints() {
    for (format, args, want) in [
        ("%s", vec![i(5)], "%!s(int=5)"),
        ("%d", vec![s("foo")], "%!d(string=foo)"),
        ("%5d", vec![s("x")], "%!d(string=    x)"),
        ("%d", vec![], "%!d(MISSING)"),
        ("%d", vec![i(1), s("x"), i(2)], "1%!(EXTRA string=x, int=2)"),
        ("%", vec![], "%!(NOVERB)"),
        ("%!", vec![], "%!!(MISSING)"),
        ("%z", vec![i(1)], "%!z(int=1)"),
        ("%d", vec![f(1.5)], "%!d(float64=1.5)"),
        ("%[2]d %[1]d", vec![i(1), i(2)], "2 1"),
        ("%[3]d", vec![i(1)], "%!d(BADINDEX)"),
        ("%[1]d %d", vec![i(1), i(2)], "1 2"),
        (
            "%*d|%-*d|%.*f",
            vec![i(5), i(3), i(3), i(1), i(2), f(3.14149)],
            "    3|1  |3.14",
        ),
        ("%*d", vec![s("x"), i(1)], "%!(BADWIDTH)1"),
        ("%.*d", vec![i(-1), i(1)], "%!(BADPREC)1"),
        ("%%d %d", vec![i(3)], "%d 3"),
        ("%é", vec![i(1)], "%!é(int=1)"),
    ] {
        assert_eq!(sprintf(format, &args), want, "{format}");
    }
}

#[test]
fn print_spacing() {
    assert_eq!(sprint(&[i(1), i(2), s("a"), s("b"), i(3)]), "1 2ab3");
    assert_eq!(sprint(&[s("a"), i(1), s("b")]), "a1b");
    assert_eq!(sprint(&[Value::Nil, Value::Nil]), "<nil> <nil>");
    assert_eq!(sprint(&[Value::Html("x".to_string()), i(1)]), "x1");
}
