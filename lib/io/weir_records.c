/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Alert and flow records as JSON (main lcore only).
 */
#include "weir_inspect.h"
#include "weir_out.h"

/* Bumped by the control plane when rules or queries change (one generation so far). */
static void json_ip(struct weir_json *j, const char *key, uint8_t ver, const uint8_t ip[16])
{
	char buf[64];

	weir_pkt_format_ip(ver, ip, buf, sizeof(buf));
	weir_json_str(j, key, buf);
}

/* r is NULL only if the generation was freed first (a bug): the alert still says what it can. */
static void alert_json(struct weir_json *j, const struct weir_alert_rec *a, const struct weir_rule *r)
{
	static const char *const dirs[] = {"to_client", "to_server", "unknown"};

	weir_json_str(j, "type", "alert");
	weir_json_u64(j, "ts", a->ts);
	if (r) {
		weir_json_u64(j, "rule", r->id);
		weir_json_str(j, "msg", r->msg);
		weir_json_u64(j, "severity", r->severity);
		weir_json_str(j, "action", weir_rule_action_name(r->action));
	} else {
		weir_json_null(j, "rule");
	}
	if (a->ip_version) {
		json_ip(j, "src_ip", a->ip_version, a->src_ip);
		json_ip(j, "dst_ip", a->ip_version, a->dst_ip);
		weir_json_u64(j, "src_port", a->src_port);
		weir_json_u64(j, "dst_port", a->dst_port);
		weir_json_u64(j, "proto", a->proto);
	}
	weir_json_u64(j, "flow_id", a->flow_id);
	weir_json_str(j, "direction", dirs[a->to_server < 3 ? a->to_server : 2]);
	weir_json_str(j, "mode", a->stream ? "stream" : "packet");
	weir_json_u64(j, "matches", a->matches);
	weir_json_u64(j, "generation", a->generation);
}

static void flow_json(struct weir_json *j, const struct weir_flow_rec *fr)
{
	const struct weir_flow_info *f = &fr->info;

	weir_json_str(j, "type", "flow");
	weir_json_u64(j, "flow_id", f->id);
	weir_json_u64(j, "first_ts", f->first_ts);
	weir_json_u64(j, "last_ts", f->last_ts);
	json_ip(j, "client_ip", f->ip_version, f->client_ip);
	json_ip(j, "server_ip", f->ip_version, f->server_ip);
	weir_json_u64(j, "client_port", f->client_port);
	weir_json_u64(j, "server_port", f->server_port);
	weir_json_u64(j, "proto", f->proto);
	weir_json_u64(j, "vlan", f->vlan);
	weir_json_u64(j, "packets_to_server", f->pkts[0]);
	weir_json_u64(j, "packets_to_client", f->pkts[1]);
	weir_json_u64(j, "ip_bytes_to_server", f->bytes[0]);
	weir_json_u64(j, "ip_bytes_to_client", f->bytes[1]);
	weir_json_u64(j, "tcp_flags_to_server", f->tcp_flags[0]);
	weir_json_u64(j, "tcp_flags_to_client", f->tcp_flags[1]);
	weir_json_str(j, "state", weir_flow_state_name(f->state));
	weir_json_str(j, "end", weir_flow_end_name(fr->end));
	weir_json_u64(j, "rules", f->rules);
}

void weir_record_json(struct weir_json *j, const struct weir_record *r, const struct weir_rule *rule)
{
	weir_json_reset(j);
	weir_json_begin(j, NULL);
	if (r->kind == WEIR_REC_ALERT)
		alert_json(j, &r->alert, rule);
	else
		flow_json(j, &r->flow);
	weir_json_end(j);
}
