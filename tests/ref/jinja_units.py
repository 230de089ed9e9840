#!/usr/bin/env python3
# qlora-tools: ISC license.
"""Unit cases for the C Jinja subset (formats/tokenizer/jinja*.c), rendered by jinja2 exactly as
transformers renders chat templates (its own compile function, so the environment, tojson,
raise_exception, strftime_now, dict and namespace are transformers').

Run from the repository root:  /work/venv-ref/bin/python tests/ref/jinja_units.py
Committed output made with transformers 5.24.0, jinja2 3.1.6. Writes tests/data/jinja/units.json:
a list of {"template", "vars", "text"} or {"template", "vars", "error"} (the exception's class
and message) for cases jinja2 rejects or that raise.
"""
import datetime
import json
import os

import transformers.utils.chat_template_utils as ctu


class FixedDatetime(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime.datetime(2024, 7, 26, 13, 5, 9)


ctu.datetime = FixedDatetime
NOW = 1721999109  # 2024-07-26 13:05:09 UTC

MSGS = [{"role": "system", "content": " sys "}, {"role": "user", "content": "Hi 你好 😀"},
        {"role": "assistant", "content": "<think>\nr\n</think>\n\nok"}]
V = {"messages": MSGS, "n": 3, "x": 2.5, "s": "  Hello, World  ", "zh": "中文字符串",
     "l": [3, 1, 2], "d": {"b": 1, "a": [1, 2], "c": {"k": "v"}}, "t": True, "none": None,
     "words": ["b", "A", "c", "a"]}

CASES = [
    # text, whitespace control, trim_blocks / lstrip_blocks
    "plain text\nline 2\n",
    "a\n  {% if t %}\n  b\n  {% endif %}\nc",
    "a  {%- if t -%}  b  {%- endif -%}  c",
    "a\n  {%+ if t %}b{% endif +%}\nc",
    "{# comment #}\nx  {#- c2 -#}  y\n   {# c3 #}\nz",
    "{{ 'v' }}\n  {{- ' w' }}  \n{{ 'x' -}}\n\n y",
    "line\r\nwin\rmac\n\n",
    "  {% set a = 1 %}\n{{ a }}",
    # literals and operators
    "{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 7 / 2 }} {{ 10 / 5 }}",
    "{{ 1.5 + 1 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e-5 }} {{ 3.0 }} {{ 1/3 }} {{ -0.0 }} {{ 2.5e16 }}",
    "{{ 'a' ~ 1 ~ none ~ true }} {{ 'ab' * 3 }} {{ [1] + [2] }} {{ (1, 2) }} {{ (1,) }}",
    "{{ 'a' 'b' \"c\" }} {{ '\\n\\t\\\\\\'\\x41\\u4e2d\\U0001F600\\z' }}",
    "{{ {'a': 1, 'b': [1, 'x', none, true, 1.5]} }} {{ [] }} {{ {} }} {{ \"it's\" }} {{ ['a\"b'] }}",
    "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ true == 1 }}",
    "{{ 'ell' in s }} {{ 2 in l }} {{ 'a' in d }} {{ 'z' not in d }} {{ none is none }}",
    "{{ t and 'yes' }} {{ none or 'dflt' }} {{ 0 or '' }} {{ not t }} {{ 'x' if t }}|{{ 'x' if not t }}|{{ 'a' if none else 'b' }}",
    "{{ -n }} {{ +n }} {{ n - -1 }}",
    # variables and subscripts
    "{{ messages[0].role }} {{ messages[-1]['content'] }} {{ messages[5] }}|{{ d.c.k }} {{ d['a'][1] }} {{ l.0 }}",
    "{{ s[2:7] }}|{{ s[::-1] }}|{{ zh[1:3] }}|{{ zh[-2:] }}|{{ l[::2] }}|{{ l[5:] }}|{{ zh[::2] }}|{{ zh[0] }}",
    "{{ undefined_thing }}|{{ undefined_thing is defined }}|{{ d.nope is defined }}|{{ d.nope }}",
    # for loops
    "{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }} {% endfor %}",
    "{% for k in d %}{{ k }},{% endfor %}|{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for c in zh %}[{{ c }}]{% endfor %}",
    "{% for i in range(5) if i is odd %}{{ i }}:{{ loop.index }}/{{ loop.length }} {% endfor %}",
    "{% for i in [] %}x{% else %}empty{% endfor %}|{% for i in range(10) %}{% if i == 3 %}{% break %}{% endif %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %}",
    "{% for i in range(3) %}{% for j in range(2) %}{{ loop.depth }}{{ i }}{{ j }} {% endfor %}{% endfor %}",
    "{% for i in range(3) %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('a', 'b') }} {% endfor %}",
    "{% for a, b in [(1, 2), [3, 4]] %}{{ a }}{{ b }}{% endfor %}",
    "{% for m in none %}{% endfor %}",
    # set and scopes
    "{% set x = 1 %}{% for i in range(3) %}{{ x }}{% set x = i + 10 %}{{ x }} {% endfor %}{{ x }}",
    "{% set ns = namespace(c=0, found=false) %}{% for i in range(4) %}{% set ns.c = ns.c + i %}{% endfor %}{{ ns.c }} {{ ns.found }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = 1, %}{{ c }}",
    "{% set blk %}  inner {{ n }}  {% endset %}[{{ blk }}]{% set b2 | trim | upper %}  low  {% endset %}[{{ b2 }}]",
    "{% filter upper %}abc {{ s }}{% endfilter %}",
    "{% set x = 5 %}{% if t %}{% set x = 6 %}{% endif %}{{ x }}",
    "{% set ns = namespace() %}{% set ns.a = 1 %}{{ ns.a }}{% set d2 = dict(a=1, b='x') %}{{ d2 }}",
    # macros
    "{% macro m(a, b='B', c=none) %}<{{ a }}|{{ b }}|{{ c }}>{% endmacro %}{{ m(1) }}{{ m(1, 2) }}{{ m(1, c=3) }}{{ m() }}",
    "{% set x = 'outer' %}{% macro m() %}{{ x }}{% set x = 'in' %}{{ x }}{% endmacro %}{{ m() }}{{ x }}",
    "{% macro r(k) %}{% if k > 0 %}{{ k }}{{ r(k - 1) }}{% endif %}{% endmacro %}{{ r(3) }}",
    "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}",
    # str methods
    "[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ 'xxhixx'.strip('x') }}][{{ '\u3000 a\\u00a0'.strip() }}]",
    "{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ ' a b c '.rsplit(None, 1) }} {{ 'a b'.split(' ', 0) }}",
    "{{ s.startswith('  He') }} {{ s.endswith(('x', 'd  ')) }} {{ s.replace('l', 'L') }} {{ s.replace('l', 'L', 2) }} {{ 'ab'.replace('', '-') }}",
    "{{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }} {{ 'Straße'.upper() }} {{ 'ÀB'.lower() }} {{ 'x1y'.upper() }}",
    "{{ s.find('o') }} {{ zh.find('字') }} {{ s.rfind('o') }} {{ s.count('l') }} {{ '-'.join(['a', 'b']) }} {{ 'a\\nb\\r\\nc'.splitlines() }}",
    "{{ '12'.isdigit() }} {{ 'ab'.isalpha() }} {{ ' '.isspace() }} {{ 'ab'.islower() }} {{ 'AB'.isupper() }} {{ ''.isdigit() }}",
    "{{ '{} and {}'.format(1, 'b') }} {{ '{0}{1}{0}'.format('a', 'b') }} {{ '{name}!'.format(name='x') }} {{ '{{}}'.format() }}",
    "{{ 'prefix_x'.removeprefix('prefix_') }}",
    # dict/list methods
    "{{ d.get('b') }} {{ d.get('z') }} {{ d.get('z', 9) }} {{ d.keys() | list }} {{ d.values() | list | length }} {{ l.index(2) }} {{ l.count(1) }}",
    # filters
    "{{ s | trim }}|{{ 'xxaxx' | trim('x') }}|{{ messages | length }}|{{ s | length }}|{{ zh | length }}|{{ nope | length }}",
    "{{ nope | default('D') }} {{ '' | default('E') }} {{ '' | default('F', true) }} {{ none | default('G') }} {{ nope | d }}",
    "{{ l | join(', ') }}|{{ messages | map(attribute='role') | join('/') }}|{{ l | join }}|{{ [1, none, 'a'] | join('-') }}",
    "{{ messages | selectattr('role', 'equalto', 'user') | list | length }} {{ messages | rejectattr('role', 'eq', 'user') | map(attribute='role') | list }} {{ l | select('odd') | list }} {{ l | reject('odd') | list }}",
    "{{ messages | selectattr('role') | list | length }} {{ [0, 1, '', 'a'] | select | list }}",
    "{{ l | sort }} {{ l | sort(reverse=true) }} {{ words | sort }} {{ words | sort(case_sensitive=true) }} {{ messages | sort(attribute='role') | map(attribute='role') | list }}",
    "{{ d | dictsort }} {{ {'b': 1, 'A': 2} | dictsort }} {{ {'b': 1, 'a': 2} | dictsort(by='value') }}",
    "{{ words | unique | list }} {{ l | min }} {{ l | max }} {{ l | sum }} {{ [1.5, 2] | sum }} {{ l | first }} {{ l | last }} {{ l | reverse | list }} {{ 'abc' | reverse }}",
    "{{ d | items | list }} {{ 'ab' | list }} {{ 5 | string }} {{ none | string }} {{ 'Ab' | upper }}{{ 'Ab' | lower }}{{ 'ab cd' | title }}{{ 'aB' | capitalize }}",
    "{{ '42' | int }} {{ ' 7 ' | int }} {{ 'x' | int }} {{ 'x' | int(5) }} {{ 3.9 | int }} {{ '2.5' | float }} {{ 3 | float }} {{ -3 | abs }} {{ 2.567 | round(2) }} {{ 2.5 | round }} {{ 2.4 | round(0, 'ceil') }}",
    "{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent('>', blank=true) }}",
    "{{ 'a b  c' | wordcount }} {{ '<a href=\"x\">&' | e }} {{ s | replace(' ', '_') }} {{ l | map('string') | join }} {{ words | map('upper') | list }}",
    "{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ messages[1] | tojson }}|{{ 'q\"\\\\\\n\\t\\x01é' | tojson }}|{{ [1.5, 1e20, none, true] | tojson }}",
    "{{ d | tojson(sort_keys=true) }}|{{ d | tojson(separators=(',', ':')) }}|{{ zh | tojson(ensure_ascii=true) }}|{{ '😀' | tojson(true) }}|{{ {1: 'a'} | tojson }}",
    "{{ ('x' | safe) + '<b>' }}|{{ '<i>' + ('y' | safe) }}|{{ ('x' | safe) ~ '<b>' }}|{{ '&' | e | e }}",
    # tests
    "{{ 1 is odd }} {{ 2 is even }} {{ 9 is divisibleby 3 }} {{ s is string }} {{ l is iterable }} {{ d is mapping }} {{ n is number }} {{ x is float }} {{ n is integer }} {{ t is boolean }} {{ t is true }} {{ none is false }}",
    "{{ l is sequence }} {{ nope is undefined }} {{ messages is not none }} {{ 'a' is in 'abc' }} {{ 1 is eq 1 }} {{ 2 is gt 1 }} {{ range is callable }} {{ 'ab' is lower }} {{ t is sameas true }}",
    # generators
    "{{ (l | map('string') | list) }} {{ l | select('odd') | first }} {{ messages | selectattr('role', 'eq', 'nobody') | list | length }}",
    "{% if messages | selectattr('role', 'eq', 'nobody') %}truthy{% endif %}",
    "{{ l | map('string') | tojson }}",
    "{{ l | select('odd') | length }}",
    # globals
    "{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ range(5, 0, -2) | list }} {{ strftime_now('%Y-%m-%d %H:%M:%S %d %b %Y %B %A') }}",
    # errors
    "{{ raise_exception('No system messages allowed') }}",
    "{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}",
    "{{ nope.attr }}",
    "{{ nope['x'] }}",
    "{{ l.append(4) }}",
    "{{ d.update({}) }}",
    "{{ 1 / 0 }}",
    "{{ 'a' + 1 }}",
    "{{ nope + 'x' }}",
    "{{ l < 'a' }}",
    "{% for %}",
    "{% if t %}unclosed",
    "{% endif %}",
    "{{ 'unterminated }}",
    "{% include 'x.jinja' %}",
    "{% raw %}{{ x }}{% endraw %}",
    "{% for i in range(3) recursive %}{% endfor %}",
    "{% do l.append(1) %}",
    "{{ x | from_json }}",
    "{% if false %}{{ x | from_json }}{% endif %}ok",
    "{{ namespace(_x=1) }}",
    "{{ none[0] }}",
    "{{ 5 | length }}",
    "{% set ns = 1 %}{% set ns.a = 2 %}",
    "{{ m() }}",
    "{{ '%s' % 'x' }}",
]


def main():
    env = ctu._compile_jinja_template.__wrapped__ if hasattr(ctu._compile_jinja_template, "__wrapped__") else ctu._compile_jinja_template
    out = []
    for tpl in CASES:
        case = {"template": tpl, "vars": V}
        try:
            case["text"] = env(tpl).render(**V)
        except Exception as e:
            case["error"] = "%s: %s" % (type(e).__name__, e)
        out.append(case)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "jinja",
                        "units.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"now": NOW, "cases": out}, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
