package saltcheck

import (
	"testing"
)

// TestAssertions checks every assertion against Salt's semantics: the cast
// of expected_return to the return's type, Python's comparisons, and Salt's
// messages.
func TestAssertions(t *testing.T) {
	list := []any{"a", int64(2)}
	dict := map[string]any{"shell": "/bin/bash"}
	tests := []struct {
		name      string
		assertion string
		expected  any
		returned  any
		hide      bool // print_result: False
		want      string
	}{
		{"equal strings", "assertEqual", "hi", "hi", false, "Pass"},
		{"equal differs", "assertEqual", "hi", "ho", false, "Fail: hi is not equal to ho"},
		{"equal hidden", "assertEqual", "hi", "ho", true, "Fail: Result is not equal"},
		{"equal casts a string to the int returned", "assertEqual", "3", int64(3), false, "Pass"},
		{"equal casts an int to the str returned", "assertEqual", int64(3), "3", false, "Pass"},
		{"equal casts False to the bool returned", "assertEqual", "False", false, false, "Pass"},
		{"equal casts a non-empty string to True", "assertEqual", "no", true, false, "Pass"},
		{"equal int and float", "assertEqual", int64(1), 1.0, false, "Pass"},
		{"equal lists", "assertEqual", []any{"a", int64(2)}, list, false, "Pass"},
		{"equal dicts differ", "assertEqual", map[string]any{"shell": "/bin/sh"}, dict, false,
			"Fail: {'shell': '/bin/sh'} is not equal to {'shell': '/bin/bash'}"},
		{"equal None return is not cast", "assertEqual", "None", nil, false, "Fail: None is not equal to None"},
		{"not equal", "assertNotEqual", "a", "b", false, "Pass"},
		{"not equal but equal", "assertNotEqual", "5", int64(5), false, "Fail: 5 is equal to 5"},
		{"not equal hidden", "assertNotEqual", "a", "a", true, "Fail: Result is equal"},
		{"true", "assertTrue", nil, true, false, "Pass"},
		{"true is strict: 1 is not True", "assertTrue", nil, int64(1), false, "Fail: 1 not True"},
		{"true of a string", "assertTrue", nil, "yes", false, "Fail: yes not True"},
		{"false", "assertFalse", nil, false, false, "Pass"},
		{"false is strict: 0 is not False", "assertFalse", nil, int64(0), false, "Fail: 0 not False"},
		{"false of an empty string (bool of a str)", "assertFalse", nil, "", false, "Pass"},
		{"false of the string False is True", "assertFalse", nil, "False", false, "Fail: True not False"},
		{"in a string", "assertIn", "bash", "/bin/bash", false, "Pass"},
		{"in a list", "assertIn", int64(2), list, false, "Pass"},
		{"in a list, not cast", "assertIn", "2", list, false, "Fail: 2 not found in ['a', 2]"},
		{"in a dict's keys", "assertIn", "shell", dict, false, "Pass"},
		{"in hidden", "assertIn", "zsh", "/bin/bash", true, "Fail: Result not found"},
		{"in an int", "assertIn", "1", int64(10), false, "Fail: the return is a int (10), not a str, list or dict to look in"},
		{"in a string needs a string", "assertIn", int64(1), "10", false, "Fail: cannot look for a int in a str: expected_return must be a string"},
		{"not in", "assertNotIn", "zsh", "/bin/bash", false, "Pass"},
		{"not in but found", "assertNotIn", "a", list, false, "Fail: a was found in ['a', 2]"},
		{"not in hidden", "assertNotIn", "a", list, true, "Fail: Result was found"},
		// Salt compares expected_return to the return, in that order.
		{"greater: expected > return", "assertGreater", int64(4), int64(3), false, "Pass"},
		{"greater: equal is not greater", "assertGreater", int64(3), int64(3), false,
			"Fail: expected_return 3 is not greater than the return 3"},
		{"greater casts the expected string", "assertGreater", "10", int64(9), false, "Pass"},
		{"greater of strings", "assertGreater", "b", "a", false, "Pass"},
		{"greater of lists", "assertGreater", []any{int64(1), int64(3)}, []any{int64(1), int64(2), int64(9)}, false, "Pass"},
		{"greater of a dict cannot order", "assertGreater", int64(1), dict, false,
			"Fail: cannot compare expected_return 1 with the return {'shell': '/bin/bash'}: a int and a dict cannot be ordered"},
		{"greater equal", "assertGreaterEqual", int64(3), int64(3), false, "Pass"},
		{"greater equal fails", "assertGreaterEqual", int64(2), 2.5, false,
			"Fail: expected_return 2.0 is not greater than or equal to the return 2.5"},
		{"less", "assertLess", int64(1), int64(2), false, "Pass"},
		{"less fails", "assertLess", int64(2), int64(1), false, "Fail: expected_return 2 is not less than the return 1"},
		{"less equal", "assertLessEqual", "1.5", 1.5, false, "Pass"},
		{"less equal fails", "assertLessEqual", "b", "a", false, "Fail: expected_return b is not less than or equal to the return a"},
		{"empty string", "assertEmpty", nil, "", false, "Pass"},
		{"empty zero", "assertEmpty", nil, int64(0), false, "Pass"},
		{"empty None", "assertEmpty", nil, nil, false, "Pass"},
		{"empty False", "assertEmpty", nil, false, false, "Pass"},
		{"empty but a list", "assertEmpty", nil, list, false, "Fail: ['a', 2] is not empty"},
		{"not empty", "assertNotEmpty", nil, dict, false, "Pass"},
		{"not empty but an empty list", "assertNotEmpty", nil, []any{}, false, "Fail: value is empty"},
		{"not empty but False", "assertNotEmpty", nil, false, false, "Fail: value is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := evaluate(tt.assertion, tt.expected, tt.returned, !tt.hide); got != tt.want {
				t.Errorf("%s(%#v, %#v) = %q, want %q", tt.assertion, tt.expected, tt.returned, got, tt.want)
			}
		})
	}
	for name := range assertions {
		found := false
		for _, tt := range tests {
			found = found || tt.assertion == name
		}
		if !found {
			t.Errorf("assertion %s has no test case", name)
		}
	}
}

// TestSection checks assertion_section traversal as Salt's
// traverse_dict_and_list does.
func TestSection(t *testing.T) {
	ret := map[string]any{
		"a": map[string]any{"b": "c"},
		"l": []any{"x", map[string]any{"k": "v"}},
	}
	tests := []struct {
		path, delim string
		want        any
	}{
		{"a:b", ":", "c"},
		{"a|b", "|", "c"},
		{"l:0", ":", "x"},
		{"l:-1:k", ":", "v"},
		{"l:k", ":", "v"}, // a key of a dict in the list
		{"l:5", ":", false},
		{"a:missing", ":", false},
		{"a:b:c", ":", false},
	}
	for _, tt := range tests {
		if got := section(ret, tt.path, tt.delim); !equal(got, tt.want) || typeName(got) != typeName(tt.want) {
			t.Errorf("section(%q, %q) = %#v, want %#v", tt.path, tt.delim, got, tt.want)
		}
	}
}
