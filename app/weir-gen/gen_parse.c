/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir-gen: parsing of --rate, --size, seconds and counts.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gen_parse.h"

const unsigned gen_imix_pattern[12] = {64, 570, 64, 1518, 64, 570, 64, 64, 570, 64, 570, 64};

static const struct {
	const char *suffix;
	enum gen_rate_kind kind;
	double mult;
} rate_units[] = {
	{"pps", RATE_PPS, 1}, {"kpps", RATE_PPS, 1e3}, {"mpps", RATE_PPS, 1e6}, {"gpps", RATE_PPS, 1e9},
	{"bit", RATE_BPS, 1}, {"kbit", RATE_BPS, 1e3}, {"mbit", RATE_BPS, 1e6}, {"gbit", RATE_BPS, 1e9},
	{"bit/s", RATE_BPS, 1}, {"kbit/s", RATE_BPS, 1e3}, {"mbit/s", RATE_BPS, 1e6}, {"gbit/s", RATE_BPS, 1e9},
	{"bps", RATE_BPS, 1}, {"kbps", RATE_BPS, 1e3}, {"mbps", RATE_BPS, 1e6}, {"gbps", RATE_BPS, 1e9},
};

int gen_parse_rate(const char *s, struct gen_rate *r, char *err, size_t errlen)
{
	char *end;
	double v;

	if (strcasecmp(s, "max") == 0) {
		r->kind = RATE_MAX;
		r->value = 0;
		return 0;
	}
	errno = 0;
	v = strtod(s, &end);
	if (end != s && errno == 0 && isfinite(v) && v > 0) {
		while (*end == ' ')
			end++;
		for (size_t i = 0; i < sizeof(rate_units) / sizeof(rate_units[0]); i++)
			if (strcasecmp(end, rate_units[i].suffix) == 0) {
				r->kind = rate_units[i].kind;
				r->value = v * rate_units[i].mult;
				if (r->value < 1) /* below 1 pps / 1 bit/s */
					break;
				return 0;
			}
	}
	snprintf(err, errlen,
		 "invalid --rate '%s': expected a positive number with a unit: pps, kpps, Mpps (packets/s) or "
		 "bit, kbit, Mbit, Gbit (bits/s on the wire), e.g. 1.5Mpps, 500kpps, 2Gbit; or max", s);
	return -1;
}

static int parse_uint(const char *s, unsigned *v)
{
	char *end;
	unsigned long x;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || *end || x > 1000000)
		return -1;
	*v = (unsigned)x;
	return 0;
}

int gen_parse_size(const char *s, unsigned min_size, struct gen_size *sz, char *err, size_t errlen)
{
	char a[32];
	const char *dash;

	if (strcasecmp(s, "imix") == 0) {
		if (min_size > 64) {
			snprintf(err, errlen, "--size imix has 64-byte frames, below the %u bytes these headers need",
				 min_size);
			return -1;
		}
		sz->kind = SIZE_IMIX;
		sz->lo = 64;
		sz->hi = 1518;
		return 0;
	}
	dash = strchr(s, '-');
	if (dash) {
		size_t n = (size_t)(dash - s);
		if (n == 0 || n >= sizeof(a))
			goto bad;
		memcpy(a, s, n);
		a[n] = 0;
		if (parse_uint(a, &sz->lo) || parse_uint(dash + 1, &sz->hi) || sz->lo > sz->hi)
			goto bad;
		sz->kind = sz->lo == sz->hi ? SIZE_FIXED : SIZE_RANGE;
	} else {
		if (parse_uint(s, &sz->lo))
			goto bad;
		sz->hi = sz->lo;
		sz->kind = SIZE_FIXED;
	}
	if (sz->lo < min_size || sz->hi > GEN_SIZE_MAX) {
		snprintf(err, errlen,
			 "invalid --size '%s': frame sizes (with the 4-byte FCS) must lie within %u..%u bytes "
			 "(%u = Ethernet + IPv4 + L4 headers + the 18-byte trailer + FCS)",
			 s, min_size, GEN_SIZE_MAX, min_size);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen,
		 "invalid --size '%s': expected a frame size (64), a range LO-HI (64-1518, uniform) or imix", s);
	return -1;
}

int gen_parse_seconds(const char *opt, const char *s, double *v, char *err, size_t errlen)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(*v) || *v <= 0 || *v > 1e7) {
		snprintf(err, errlen, "invalid %s '%s': expected seconds > 0 (e.g. 2 or 0.5)", opt, s);
		return -1;
	}
	return 0;
}

int gen_parse_count(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *v,
		    char *err, size_t errlen)
{
	char *end;
	unsigned long long x;
	uint64_t mult = 1;

	errno = 0;
	if (*s < '0' || *s > '9')
		goto bad;
	x = strtoull(s, &end, 10);
	if (errno)
		goto bad;
	if (*end == 'k' || *end == 'K')
		mult = 1000, end++;
	else if (*end == 'M')
		mult = 1000000, end++;
	else if (*end == 'G')
		mult = 1000000000, end++;
	if (*end || x > hi / mult || x * mult < lo || x * mult > hi)
		goto bad;
	*v = x * mult;
	return 0;
bad:
	snprintf(err, errlen, "invalid %s '%s': expected an integer within %llu..%llu", opt, s,
		 (unsigned long long)lo, (unsigned long long)hi);
	return -1;
}

void gen_fmt_rate(char *buf, size_t len, double v, const char *unit)
{
	const char *p = "";

	if (v >= 1e9)
		v /= 1e9, p = "G";
	else if (v >= 1e6)
		v /= 1e6, p = "M";
	else if (v >= 1e3)
		v /= 1e3, p = "k";
	snprintf(buf, len, "%.3g %s%s", v, p, unit);
}
