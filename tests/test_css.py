"""Tests for qpd.web.css."""

import pytest

from qpd.web.css import (
    darken, declarations, hex_to_rgb, lighten, mix, parse_color, rgb_to_hex,
    rgba, rule, rules)


def test_hex_rgb():
    assert hex_to_rgb('#336699') == (0x33, 0x66, 0x99)
    assert hex_to_rgb('369') == (0x33, 0x66, 0x99)
    assert hex_to_rgb('#FFF') == (255, 255, 255)
    assert rgb_to_hex(51, 102, 153) == '#336699'
    assert rgb_to_hex((51, 102, 153)) == '#336699'
    assert rgb_to_hex(300, -5, 12.6) == '#ff000d'
    for bad in ('#12', '#ggg', 'red', '#1234567'):
        with pytest.raises(ValueError):
            hex_to_rgb(bad)


def test_parse_color():
    assert parse_color('rgb(1, 2, 3)') == (1, 2, 3)
    assert parse_color((1, 2, 300)) == (1, 2, 255)
    assert parse_color('#010203') == (1, 2, 3)
    with pytest.raises(ValueError):
        parse_color((1, 2))


def test_mix_lighten_darken():
    assert mix('#000000', '#ffffff') == '#808080'
    assert mix('#ff0000', '#0000ff', 1) == '#ff0000'
    assert mix('#ff0000', '#0000ff', 0) == '#0000ff'
    assert lighten('#000', 0.5) == '#808080'
    assert lighten('#336699', 0) == '#336699'
    assert lighten('#336699', 1) == '#ffffff'
    assert darken('#fff', 0.5) == '#808080'
    assert darken('#336699', 1) == '#000000'
    assert darken('#336699') == '#2e5c8a'


def test_rgba():
    assert rgba('#336699', 0.5) == 'rgba(51, 102, 153, 0.5)'
    assert rgba('#000', 1) == 'rgba(0, 0, 0, 1)'


def test_declarations_and_rule():
    assert declarations({'color': 'red'}, font_size='12px', margin=(0, 'auto'),
                        border=None) == '  color: red;\n  font-size: 12px;\n  margin: 0 auto;\n'
    assert rule('p.note', {'--main-color': '#fff'}, _webkit_x='1') == \
        'p.note {\n  --main-color: #fff;\n  -webkit-x: 1;\n}\n'
    assert rule('a', content='"a;b{}"') == 'a {\n  content: "a;b{}";\n}\n'


@pytest.mark.parametrize('value', [
    'red; background: url(x)', 'red}body{', '</style><script>', 'a\nb', '"<!--"'])
def test_unsafe_values_refused(value):
    with pytest.raises(ValueError):
        declarations(color=value)


def test_bad_names_refused():
    with pytest.raises(ValueError):
        declarations({'col or': 'red'})
    with pytest.raises(ValueError):
        rule('a { } b', color='red')


def test_rules_nested():
    sheet = rules({
        'body': {'margin': 0},
        '@media (max-width: 600px)': {'p': {'color': 'red'}},
    })
    assert sheet == ('body {\n  margin: 0;\n}\n'
                     '@media (max-width: 600px) {\n  p {\n    color: red;\n  }\n}\n')
