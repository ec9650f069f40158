/* SPDX-License-Identifier: BSD-3-Clause
 *
 * weir_conf: weir's configuration (one YAML file) and port profiles
 * (pmd-config/NAME.yaml), loaded into plain structs with fixed bounds.
 *
 * Every error names the file and line and what is wrong, e.g.
 *   "weir.yaml:12: query 'hostpairs': unknown group_by field 'src_mac'"
 * and leaves the struct unusable (the caller exits with status 2).
 * Every knob is documented where it is parsed (weir_conf.c) and in
 * README.md.
 */
#ifndef WEIR_CONF_H
#define WEIR_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir_pkt.h"

#define WEIR_MAX_QUERIES   32
#define WEIR_MAX_GROUP_BY  8
#define WEIR_MAX_AGGS      16
#define WEIR_MAX_PORTS     16
#define WEIR_MAX_WORKERS   64
#define WEIR_NAME_MAX      64
#define WEIR_PATH_MAX      1024
#define WEIR_MAX_RULE_FILES 32

/*
 * Packet fields, for group_by and as aggregate arguments: enum name, config
 * name, encoded key bytes. The first block comes from the parsed headers,
 * the second from earlier pipeline stages (struct weir_burst_meta).
 */
#define WEIR_FIELD_LIST(X)               \
	X(SRC_IP,      "src_ip",      16)  \
	X(DST_IP,      "dst_ip",      16)  \
	X(SRC_PORT,    "src_port",    2)   \
	X(DST_PORT,    "dst_port",    2)   \
	X(PROTO,       "proto",       1)   \
	X(L4_PROTO,    "l4_proto",    1)   \
	X(VLAN,        "vlan",        2)   \
	X(IP_VERSION,  "ip_version",  1)   \
	X(TCP_FLAGS,   "tcp_flags",   1)   \
	X(LENGTH,      "length",      4)   \
	X(IP_LEN,      "ip_len",      4)   \
	X(PAYLOAD_LEN, "payload_len", 4)   \
	X(TTL,         "ttl",         1)   \
	X(TCP_WINDOW,  "tcp_window",  2)   \
	X(RULE,        "rule",        4)   \
	X(FLOW_ID,     "flow_id",     8)   \
	X(DIRECTION,   "direction",   1)   \
	X(SRC_LABEL,   "src_label",   4)   \
	X(DST_LABEL,   "dst_label",   4)   \
	X(DST_NAME,    "dst_name",    8)

enum weir_field {
#define WEIR_X(e, s, n) WEIR_FIELD_##e,
	WEIR_FIELD_LIST(WEIR_X)
#undef WEIR_X
	WEIR_FIELD__COUNT
};

/*
 * Aggregates: enum name, config name. The first four take no argument;
 * sum/min/max/avg/quantiles take a numeric field, distinct/topk any field
 * (topk also K: topk(dst_port, 5)); first_ts, last_ts and flag_counts
 * (packets per TCP flag) take none.
 */
#define WEIR_AGG_LIST(X)                  \
	X(PACKETS,       "packets")        \
	X(BYTES,         "bytes")          \
	X(IP_BYTES,      "ip_bytes")       \
	X(PAYLOAD_BYTES, "payload_bytes")  \
	X(SUM,           "sum")            \
	X(MIN,           "min")            \
	X(MAX,           "max")            \
	X(AVG,           "avg")            \
	X(DISTINCT,      "distinct")       \
	X(TOPK,          "topk")           \
	X(QUANTILES,     "quantiles")      \
	X(FIRST_TS,      "first_ts")       \
	X(LAST_TS,       "last_ts")        \
	X(FLAG_COUNTS,   "flag_counts")

enum weir_agg {
#define WEIR_X(e, s) WEIR_AGG_##e,
	WEIR_AGG_LIST(WEIR_X)
#undef WEIR_X
	WEIR_AGG__COUNT
};

/* One aggregate of a query, e.g. topk(dst_port, 5). */
struct weir_agg_conf {
	enum weir_agg kind;
	enum weir_field field;       /* argument, when the kind takes one */
	uint16_t param;              /* topk: K; distinct: HyperLogLog precision */
	char name[80];               /* canonical text: the output key, what having names */
};

enum weir_window_type { WEIR_WINDOW_TUMBLING = 0, WEIR_WINDOW_SLIDING, WEIR_WINDOW_SESSION };
enum weir_time { WEIR_TIME_EVENT = 0, WEIR_TIME_PROCESSING };

/* having: a threshold expression over a query's aggregates, in postfix. */
#define WEIR_HAVING_MAX 32
enum weir_having_op {
	WEIR_HV_NUM, WEIR_HV_AGG, WEIR_HV_LT, WEIR_HV_LE, WEIR_HV_GT, WEIR_HV_GE, WEIR_HV_EQ,
	WEIR_HV_NE, WEIR_HV_AND, WEIR_HV_OR, WEIR_HV_NOT,
};
struct weir_having {
	char text[256];               /* as written ("" = none) */
	unsigned n;
	struct {
		uint8_t op;           /* enum weir_having_op */
		uint8_t agg;          /* WEIR_HV_AGG: index in the query's aggregates */
		uint8_t sub;          /* quantiles: 0 p50, 1 p90, 2 p99 */
		double num;           /* WEIR_HV_NUM */
	} node[WEIR_HAVING_MAX];
};

const char *weir_field_name(enum weir_field f);
unsigned weir_field_size(enum weir_field f);
int weir_field_parse(const char *name);          /* -1 if unknown */
struct weir_query_conf;
const char *weir_agg_name(enum weir_agg a);
/* Parse "topk(dst_port, 5)" into *a. 0, or -1 with err filled. */
int weir_agg_conf_parse(const char *text, struct weir_agg_conf *a, char *err, size_t errlen);
/* Does the field take a value from every IP packet (usable in sum/min/max/avg/quantiles)? */
bool weir_field_numeric(enum weir_field f);
/*
 * Parse a having expression against the query's aggregates (already read).
 * 0, or -1 with err filled ("unknown aggregate 'x' (the query has: ...)").
 */
int weir_having_parse(const char *text, const struct weir_query_conf *q, struct weir_having *h,
		      char *err, size_t errlen);

struct weir_query_conf {
	char name[WEIR_NAME_MAX];
	char filter[512];            /* tcpdump + weir predicates; "" = every packet */
	unsigned n_group_by;
	enum weir_field group_by[WEIR_MAX_GROUP_BY];
	uint8_t prefix4[WEIR_MAX_GROUP_BY]; /* src_ip/24: IPv4 prefix kept (0 = all 32 bits) */
	uint8_t prefix6[WEIR_MAX_GROUP_BY]; /* src_ip/24/48: IPv6 prefix kept (0 = all 128) */
	enum weir_window_type window;
	uint64_t size_ns;            /* window length (tumbling, sliding) */
	uint64_t slide_ns;           /* sliding: distance between window starts */
	uint64_t gap_ns;             /* session: inactivity that ends a session */
	uint64_t max_ns;             /* session: longest session (0 = unbounded) */
	uint64_t lateness_ns;        /* allowed lateness: late packets update and re-emit */
	uint64_t emit_every_ns;      /* partial results every this much event time (0 = off) */
	unsigned n_aggs;
	struct weir_agg_conf aggs[WEIR_MAX_AGGS];
	struct weir_having having;
	uint32_t max_keys;           /* per window per worker; default 65536 (4096 with sketches) */
	int line;                    /* where it was defined (0 = built in) */
};

/*
 * A port: what to open (devargs) and how (settings from a pmd-config
 * profile, overridable per port in the config file).
 */
struct weir_port_conf {
	char devargs[WEIR_PATH_MAX];  /* "net_pcap0,rx_pcap=x.pcap", "net_null0", or a PCI address */
	char profile[WEIR_PATH_MAX];  /* profile file it was built from ("" = built-in defaults) */
	char pcap_path[WEIR_PATH_MAX];/* rx_pcap file, when the port reads one (finite source) */
	char pci[8][32];              /* PCI addresses to allow-list (-a); none => --no-pci */
	unsigned n_pci;
	uint16_t rx_queues;           /* 0 = one per worker (multi-queue NICs) */
	uint16_t rx_descriptors;      /* default 1024 */
	uint32_t mbufs;               /* mempool size; default 16384 */
	uint16_t mbuf_data_room;      /* default 2048 + headroom (RTE_MBUF_DEFAULT_BUF_SIZE) */
	uint16_t mtu;                 /* 0 = leave the driver's default */
	bool scatter;                 /* accept frames larger than one mbuf (chained) */
	bool timestamps;              /* ask for the rx timestamp offload (pcap time) */
	bool rss;                     /* spread over rx queues by symmetric RSS */
	bool promiscuous;
	bool finite;                  /* source ends (pcap file): weir exits after it */
	int linktype;                 /* enum weir_linktype; from the pcap header for pcap ports */
	int line;
};

/* Flow tracking (lib/flow) and what rides on it. */
enum weir_flows_mode { WEIR_FLOWS_AUTO = 0, WEIR_FLOWS_ON, WEIR_FLOWS_OFF };
enum weir_flow_timeout_class { WEIR_FT_TCP_NEW, WEIR_FT_TCP_ESTABLISHED, WEIR_FT_TCP_CLOSING,
			       WEIR_FT_UDP, WEIR_FT_OTHER, WEIR_FT__COUNT };

struct weir_flows_conf {
	enum weir_flows_mode mode;    /* auto: on when rules are loaded or records wanted */
	uint32_t capacity;            /* flows per worker; default 1M */
	bool records;                 /* emit {"type":"flow"} when a flow ends; default false */
	uint64_t timeout_ns[WEIR_FT__COUNT];
	uint32_t streams;             /* Hyperscan stream states per worker; default 64k */
	uint32_t ooo_slots;           /* held out-of-order TCP segment slots per worker; default 4096 */
};

/* The Prometheus endpoint (GET /metrics): off unless an address is given. */
struct weir_metrics_conf {
	char listen[96];              /* as given ("" = off): ADDR:PORT, [V6]:PORT or PORT */
	char host[64];                /* numeric IPv4 or IPv6 address; PORT alone = 127.0.0.1 */
	uint16_t port;                /* 0 = any free port (the status command tells which) */
};

/* Checkpoints (issue: fault tolerance); off while dir is "". */
struct weir_checkpoint_conf {
	char dir[WEIR_PATH_MAX];      /* where checkpoint files go ("" = off) */
	uint64_t interval_ns;         /* wall time between checkpoints (0 = on request only) */
	uint64_t every_packets;       /* also after this many packets read (0 = off) */
	unsigned keep;                /* checkpoints kept; default 3 */
};

enum weir_block_matches {
	WEIR_BLOCK_MATCHES_FIRST,     /* a rule reports once per payload (the default) */
	WEIR_BLOCK_MATCHES_EVERY,     /* every match is reported and counted */
};

struct weir_config {
	char path[WEIR_PATH_MAX];     /* "" = built-in defaults */
	unsigned workers;             /* worker lcores; default 1 */
	char out[WEIR_PATH_MAX];      /* JSON lines: path, or "-" for stdout; default "weir-out.jsonl" */
	char eal_args[WEIR_PATH_MAX]; /* extra EAL arguments */
	enum weir_pkt_layer layer;    /* analysis layer: outer (default) or inner */
	enum weir_time time;          /* event (pcap/NIC timestamps, default) or processing time */
	uint64_t watermark_delay_ns;  /* out-of-orderness bound; default 2 s */
	uint64_t idle_watermark_ns;   /* idle worker advance after this much wall time; default 1 s */
	unsigned burst;               /* rx burst size; default 64 */
	unsigned ring_size;           /* distributor -> worker ring entries; default 4096 */
	bool summary;                 /* print the human summary; default true */
	unsigned summary_top;         /* rows per query per window in the summary; default 5 */
	unsigned n_queries;
	struct weir_query_conf queries[WEIR_MAX_QUERIES];
	uint32_t combine_flows;       /* flow combiner entries per worker (0 = off); default 32768 */
	unsigned combine_min_queries; /* queries it must serve to run; default 2 */
	unsigned n_ports;
	struct weir_port_conf ports[WEIR_MAX_PORTS];
	/* payload matching */
	unsigned n_rules;
	char rules[WEIR_MAX_RULE_FILES][WEIR_PATH_MAX]; /* rule files, loaded in order */
	unsigned n_rules_file;        /* the first n came from the config file (SIGHUP re-reads those) */
	bool rules_strict;            /* a skipped or invalid rule fails the start */
	char rules_cache[WEIR_PATH_MAX]; /* compiled-database cache: a dir, "off", "auto" (default) */
	uint32_t rules_max;           /* distinct rule ids live at once (counter slots) */
	uint64_t rules_compile_memory;   /* bytes a runtime compile may allocate */
	uint64_t rules_compile_timeout_ns;
	uint32_t alert_limit;         /* alerts per rule per flow, then suppressed (0 = no limit) */
	enum weir_block_matches block_matches; /* packet-mode rules: first match or every match */
	struct weir_flows_conf flows;
	/* enrichment */
	char labels[WEIR_PATH_MAX];   /* CIDR,label CSV for src_label/dst_label ("" = none) */
	uint32_t dns_capacity;        /* learned DNS answers per worker; default 65536 */
	/* control */
	char control_socket[WEIR_PATH_MAX]; /* UNIX control socket path ("" = none, the default) */
	struct weir_metrics_conf metrics;   /* Prometheus text endpoint; off by default */
	struct weir_checkpoint_conf checkpoint;
	char restore[WEIR_PATH_MAX];  /* --restore: "latest", a checkpoint file, or "" (none) */
	uint64_t replay_pps;          /* pace finite sources at this rate (0 = as fast as possible) */
	/* inline mode: port pairs that forward to each other */
	unsigned n_inline;
	struct weir_inline_pair { uint8_t a, b; } inline_pairs[WEIR_MAX_PORTS / 2];
};

/* Add an inline pair "A:B" (the CLI's --inline). 0 or -1 with err filled. */
int weir_config_add_inline(struct weir_config *c, const char *spec, char *err, size_t errlen);

/*
 * Set the metrics listen address (the CLI's --metrics, the config's
 * metrics: {listen}): "ADDR:PORT", "[IPV6]:PORT" or "PORT" (127.0.0.1),
 * numeric addresses only. 0 or -1 with err filled.
 */
int weir_config_set_metrics(struct weir_config *c, const char *listen, char *err, size_t errlen);

/* Add a rule file (the CLI's --rules). 0 or -1 with err filled. */
int weir_config_add_rules(struct weir_config *c, const char *path, char *err, size_t errlen);

/* Built-in defaults: no ports, the bundled queries (hostpairs, protocols, totals). */
void weir_config_defaults(struct weir_config *c);

/* Does the query group by f or aggregate it (sum/min/max/avg/quantiles)? */
bool weir_query_uses_field(const struct weir_query_conf *c, enum weir_field f);

/* Load `path` over the current contents of *c. 0 or -1 with err filled. */
int weir_config_load(struct weir_config *c, const char *path, char *err, size_t errlen);

/* Parse a duration ("60s", "500ms", "2m", "1h", "10us", "100ns"). 0 or -1. */
int weir_parse_duration(const char *s, uint64_t *ns);

/*
 * Add a port opened with `devargs`. `profile` is a path, a bare name looked
 * up in the pmd-config directory ("pcap" -> pmd-config/pcap.yaml), or NULL to
 * pick by driver (net_pcap -> pcap, net_null -> null, net_ring -> ring,
 * net_memif -> memif, net_af_packet -> af_packet, net_tap -> tap, a PCI
 * address -> nic). For net_pcap ports reading rx_pcap=F the file is checked
 * with libpcap (readable, a supported link type) and linktype/finite set.
 */
int weir_config_add_port(struct weir_config *c, const char *devargs, const char *profile,
			 char *err, size_t errlen);

/* Shortcut: a net_pcap port reading `file` (devargs built here). */
int weir_config_add_pcap(struct weir_config *c, const char *file, char *err, size_t errlen);

/* Directory pmd-config profiles are looked up in (env WEIR_PMD_CONFIG_DIR overrides). */
const char *weir_pmd_config_dir(void);

/* Built-in port settings, used as they are when no profile applies (unknown driver). */
void weir_port_defaults(struct weir_port_conf *p);

/*
 * Load a pmd-config profile (a path, or a bare name as for
 * weir_config_add_port) over *p, without checking it against a device:
 * for config checks and tests. 0 or -1 with err filled.
 */
int weir_port_profile_load(struct weir_port_conf *p, const char *profile, char *err,
			   size_t errlen);

#endif /* WEIR_CONF_H */
