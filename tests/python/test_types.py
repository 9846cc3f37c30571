"""uni._types: every documented descriptor parses; malformed ones are errors;
the argument check speaks the worker's words (include/uni/detail/types.hpp)."""

import unittest

from uni._types import Mismatch, make_checker, make_converter, parse_type


def mismatch(descriptor, value):
    try:
        make_converter(parse_type(descriptor))(value)
    except Mismatch as e:
        return str(e)
    return None


class ParseTypes(unittest.TestCase):
    def test_every_documented_form(self):
        for text, kind in [("void", "void"), ("bool", "bool"), ("string", "string"),
                           ("i8:signed char", "int"), ("u64:unsigned long", "int"),
                           ("f32:float", "float"), ("f128:long double", "float"),
                           ("vector<i32:int>", "vector"), ("array<f64:double,3>", "array"),
                           ("map<string,vector<i32:int>>", "map"), ("optional<string>", "optional"),
                           ("tuple<>", "tuple"), ("tuple<i32:int,string,bool>", "tuple"),
                           ("user<5:Point>", "user"), ("user<13:geo::Vec<3,4>>", "user"),
                           ("vector<user<6:a<b>c>>>", "vector")]:
            t = parse_type(text)
            self.assertEqual((t.kind, t.text), (kind, text))
        self.assertEqual(parse_type("user<13:geo::Vec<3,4>>").name, "geo::Vec<3,4>")
        self.assertEqual(parse_type("array<f64:double,3>").size, 3)
        i = parse_type("i16:short")
        self.assertEqual((i.bits, i.signed, i.cpp), (16, True, "short"))

    def test_malformed_descriptors(self):
        for text in ["", "int", "i32", "i7:x", "vector<", "vector<i32:int", "map<string>",
                     "array<i32:int>", "user<9:Point>", "user<x:P>", "bool,", "tuple<bool,>",
                     "optional<bool,bool>", "frob<bool>"]:
            with self.assertRaises(ValueError, msg=text):
                parse_type(text)


class WorkersWords(unittest.TestCase):
    def test_scalars(self):
        self.assertEqual(mismatch("i32:int", "x"), "expected integer, got string")
        self.assertEqual(mismatch("i32:int", True), "expected integer, got boolean")
        self.assertEqual(mismatch("i32:int", 1.5), "expected integer, got float")
        self.assertEqual(mismatch("i32:int", 2**31), "expected integer that fits int, got 2147483648")
        self.assertEqual(mismatch("u8:unsigned char", -1),
                         "expected integer that fits unsigned char, got -1")
        self.assertEqual(mismatch("u64:unsigned long", 2**64),
                         "expected integer that fits unsigned long, got 18446744073709551616")
        self.assertEqual(mismatch("bool", 1), "expected boolean, got integer")
        self.assertEqual(mismatch("f64:double", None), "expected number, got nil")
        self.assertEqual(mismatch("string", 3), "expected string, got integer")
        self.assertIsNone(mismatch("string", b"\xff"))  # bin is accepted for std::string
        self.assertIsNone(mismatch("i64:long", -2**63))

    def test_containers(self):
        self.assertEqual(mismatch("vector<i32:int>", {"a": 1}), "expected array, got map")
        self.assertEqual(mismatch("vector<i32:int>", [1, "x"]),
                         "element 2: expected integer, got string")
        self.assertIsNone(mismatch("vector<u8:unsigned char>", b"\x00\x01"))
        self.assertEqual(mismatch("vector<i32:int>", b"ab"), "expected array, got binary")
        self.assertEqual(mismatch("array<i32:int,3>", [1, 2]),
                         "expected array of 3 elements, got array of 2")
        self.assertEqual(mismatch("tuple<i32:int,string>", 5),
                         "expected array of 2 elements, got integer")
        self.assertEqual(mismatch("map<string,i32:int>", {"a": 1, 2: 3}),
                         "key 2: expected string, got integer")
        self.assertEqual(mismatch("map<string,i32:int>", {"a": "b"}),
                         "value 1: expected integer, got string")
        self.assertIsNone(mismatch("optional<i32:int>", None))
        self.assertEqual(mismatch("optional<i32:int>", "x"), "expected integer, got string")
        self.assertIsNone(mismatch("user<5:Point>", object()))  # the worker checks user types

    def test_whole_message_and_conversions(self):
        check = make_checker("add", "int add(int, int)", [parse_type("i32:int")] * 2)
        self.assertEqual(check((1, 2)), [1, 2])
        with self.assertRaises(Mismatch) as e:
            check((1,))
        self.assertEqual(str(e.exception),
                         "add: expected 2 arguments, got 1 (signature: int add(int, int))")
        with self.assertRaises(Mismatch) as e:
            check((1, "x"))
        self.assertEqual(str(e.exception), "add: argument 2: expected integer, got string "
                         "(signature: int add(int, int))")
        one = make_checker("half", "double half(double)", [parse_type("f64:double")])
        self.assertIs(type(one((2,))[0]), float)  # 2 for a double travels as 2.0
        with self.assertRaises(Mismatch) as e:
            one(())
        self.assertIn("expected 1 argument, got 0", str(e.exception))


if __name__ == "__main__":
    unittest.main()
