#!/usr/bin/python3
"""Reference values for tests/unit/test_report.c (the significance tests of
quanta eval), computed without the C code's formulas where possible:

- exact McNemar p: exact integer sums of math.comb over 2^n as a Fraction,
  rounded once to a float;
- Wilson interval: the roots of the quadratic (n + z^2) p^2 - (2x + z^2) p
  + x^2 / n = 0 (the C code uses the centre-and-half-width form);
- Newcombe's paired interval (1998, method 10) from those roots.

Usage: /usr/bin/python3 scripts/stats_ref.py
"""
import math
from fractions import Fraction

Z = 1.959963984540054  # Phi^-1(0.975)


def mcnemar_exact(b, c):
    n, k = b + c, min(b, c)
    tail = Fraction(sum(math.comb(n, j) for j in range(k + 1)), 2 ** n)
    return float(min(Fraction(1), 2 * tail))


def wilson(x, n, z=Z):
    a, bq, cq = n + z * z, -(2 * x + z * z), x * x / n
    disc = math.sqrt(bq * bq - 4 * a * cq)
    return (-bq - disc) / (2 * a), (-bq + disc) / (2 * a)


def newcombe(both, only1, only2, neither, z=Z):
    n = both + only1 + only2 + neither
    r1, r2 = both + only1, both + only2
    p1, p2 = r1 / n, r2 / n
    l1, u1 = wilson(r1, n, z)
    l2, u2 = wilson(r2, n, z)
    m = r1 * (n - r1) * r2 * (n - r2)
    phi = (both * neither - only1 * only2) / math.sqrt(m) if m else 0.0
    lo = p1 - p2 - math.sqrt((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)
    hi = p1 - p2 + math.sqrt((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2)
    return lo, hi


for b, c in [(0, 0), (1, 0), (0, 5), (6, 1), (20, 10), (60, 40), (600, 400), (5100, 4900),
             (6500, 3500), (10000, 0)]:
    print("mcnemar b=%d c=%d p=%.17g" % (b, c, mcnemar_exact(b, c)))
for x, n in [(0, 10), (10, 10), (3, 10), (9883, 10000), (10000, 10000)]:
    print("wilson x=%d n=%d lo=%.17g hi=%.17g" % ((x, n) + wilson(x, n)))
for t in [(12, 9, 2, 1), (59, 6, 16, 80), (9800, 0, 0, 200), (9000, 150, 100, 750),
          (0, 0, 0, 50), (50, 0, 0, 0), (9850, 60, 30, 60)]:
    print("newcombe %s lo=%.17g hi=%.17g" % ((t,) + newcombe(*t)))
