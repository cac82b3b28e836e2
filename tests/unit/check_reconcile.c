/* SPDX-License-Identifier: MIT */
/* check_reconcile.c -- the reconciliation rules of reconcile.h as a table */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "email2.h"
#include "engine/reconcile.h"

#define MAXN 8
#define E2_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * A row of the table, in a small notation (space-separated items):
 *  rows   "uid:local_name:flags[:t|:a|:m]" (POP3: the uid is the UIDL;
 *                                         t tombstone, a aged out,
 *                                         m moved under a new name)
 *  local  "uniq:flags[:tag]"             (flags from S F R T)
 *  server "uid:flags[:o]"                (o: outside the DWNDAY window)
 *  index  "folder:uidvalidity:uid:p|g|-" (p file present, g server gone)
 *  refs   "holder:tag"
 * This folder's id is "a". want is the plan as render() prints it.
 */
struct rec_row {
	const char *name;
	enum reconcile_proto proto;
	int sda;
	uint32_t stored, cur;
	const char *rows, *local, *server, *index, *refs;
	const char *want;
};

/* clang-format off */
static const struct rec_row rec_rows[] = {
	{"R1 nothing changed", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:S", "m1:S", "1:S", "", "", ""},
	{"R1 local set F: push", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:S", "m1:FS", "1:S", "", "", "PUSH r0 l0 s0 +F-"},
	{"R1 server set F: pull", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:S", "m1:S", "1:FS", "", "", "PULL r0 l0 s0 =FS"},
	{"R1 local cleared S: push remove", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:S", "m1:", "1:S", "", "", "PUSH r0 l0 s0 +-S"},
	{"R1 F set locally, S cleared on server: each side", RECONCILE_IMAP,
	 1, 7, 7, "1:m1:S", "m1:FS", "1:", "", "",
	 "PUSH r0 l0 s0 +F- PULL r0 l0 s0 =F"},
	{"R1 stale row: local set, server clear: local wins", RECONCILE_IMAP,
	 1, 7, 7, "1:m1:", "m1:F", "1:", "", "", "PUSH r0 l0 s0 +F-"},
	{"R1 cleared local, set server: local wins", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:F", "m1:", "1:FS", "", "",
	 "PUSH r0 l0 s0 +-F PULL r0 l0 s0 =S"},
	{"R1 both set the same: row only", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:", "m1:R", "1:R", "", "", "PULL r0 l0 s0 =R"},
	{"R2 server expunged, file unchanged", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:S", "m1:S", "", "", "", "LOCAL_DELETE r0 l0"},
	{"R3 server expunged, file flagged: upload", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:S", "m1:FS", "", "", "", "UPLOAD r0 l0 =FS !changed"},
	{"R4 expunged on both sides", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:S", "", "", "", "", "DROP_ROW r0"},
	{"R5 local delete, sda 1", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:S", "", "1:S", "", "", "SERVER_DELETE r0 s0"},
	{"R5 local delete, sda 2", RECONCILE_IMAP, 2, 7, 7,
	 "1:m1:S", "", "1:S", "", "", "SERVER_DELETE r0 s0"},
	{"R5 local T is a delete", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:S", "m1:ST", "1:S", "", "", "SERVER_DELETE r0 l0 s0"},
	{"R6 local delete, server flagged: download", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:S", "", "1:FS", "", "", "DOWNLOAD r0 s0 !changed"},
	{"R6 local T, server flagged: restore", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:S", "m1:ST", "1:FS", "", "",
	 "PULL r0 l0 s0 =FS !changed"},
	{"R7 left A: A keeps the row", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:S", "", "1:S", "", "b:1-V7-Fa", "KEEP r0 s0 !moved_away"},
	{"R7 appears in B: server move", RECONCILE_IMAP, 1, 9, 9,
	 "", "m1:S:1-V7-Fb", "", "b:7:1:-", "", "SERVER_MOVE l0 =S <b"},
	{"R7 old-form tag, one folder: move", RECONCILE_IMAP, 1, 9, 9,
	 "", "m1:S:1-V7", "", "b:7:1:-", "", "SERVER_MOVE l0 =S <b"},
	{"R7 sda 1 does not apply to a move", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:S", "", "1:S", "", "b:1-V7", "KEEP r0 s0 !moved_away"},
	{"R8 still in A: server copy", RECONCILE_IMAP, 1, 9, 9,
	 "", "m1:S:1-V7-Fb", "", "b:7:1:p", "", "SERVER_COPY l0 =S <b"},
	{"R8 copy seen from A: nothing", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:S", "m1:S", "1:S", "", "b:1-V7-Fa", ""},
	{"R9 moved locally, deleted on server", RECONCILE_IMAP, 1, 9, 9,
	 "", "m1:S:1-V7-Fb", "", "b:7:1:g", "",
	 "UPLOAD l0 =S !source_gone"},
	{"R9 seen from A: row dropped", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:S", "", "", "", "b:1-V7-Fa", "DROP_ROW r0"},
	{"R10 old-form tag of two folders", RECONCILE_IMAP, 1, 9, 9,
	 "", "m1:S:1-V7", "", "b:7:1:- c:7:1:-", "",
	 "UPLOAD l0 =S !ambiguous"},
	{"R10 old-form tag of this and another", RECONCILE_IMAP, 1, 7, 7,
	 "", "m1:S:1-V7", "1:S", "b:7:1:-", "",
	 "UPLOAD l0 =S !ambiguous DOWNLOAD s0"},
	{"R10 no delete while a file names it", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:S", "", "1:S", "", "c:1-V7", "KEEP r0 s0 !moved_away"},
	{"R11 untagged file: upload", RECONCILE_IMAP, 1, 7, 7,
	 "", "d1:F", "", "", "", "UPLOAD l0 =F"},
	{"R11 unknown tag: upload", RECONCILE_IMAP, 1, 7, 7,
	 "", "d1:F:4-V3-Fz", "", "", "", "UPLOAD l0 =F"},
	{"R11 trashed untagged file stays", RECONCILE_IMAP, 1, 7, 7,
	 "", "d1:T", "", "", "", "KEEP l0"},
	{"R12 own tag, no row: adopt", RECONCILE_IMAP, 1, 7, 7,
	 "", "m1:S:1-V7-Fa", "1:S", "", "", "ADOPT l0 s0 =S"},
	{"R12 old-form own tag: adopt", RECONCILE_IMAP, 1, 7, 7,
	 "", "m1:S:1-V7", "1:S", "", "", "ADOPT l0 s0 =S"},
	{"R12 own tag, expunged: upload", RECONCILE_IMAP, 1, 7, 7,
	 "", "m1:S:1-V7-Fa", "", "", "", "UPLOAD l0 =S !source_gone"},
	{"R13 own tag, old validity", RECONCILE_IMAP, 1, 7, 8,
	 "", "m1:S:1-V7-Fa", "", "", "", "KEEP l0 !stale"},
	{"R14 new server uid", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:", "m1:", "1: 2:F", "", "", "DOWNLOAD s1"},
	{"R14 new uid outside window", RECONCILE_IMAP, 1, 7, 7,
	 "", "", "2:F:o", "", "", ""},
	{"R14 first sync", RECONCILE_IMAP, 1, 0, 7,
	 "", "", "1: 2:", "", "", "DOWNLOAD s0 DOWNLOAD s1"},
	{"R15 age out", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:S", "m1:S", "1:S:o", "", "", "AGE_OUT r0 l0 s0"},
	{"R15 age out pushes first", RECONCILE_IMAP, 1, 7, 7,
	 "1:m1:S", "m1:FS", "1:S:o", "", "",
	 "PUSH r0 l0 s0 +F- AGE_OUT r0 l0 s0"},
	{"R16 uidvalidity change", RECONCILE_IMAP, 1, 7, 8,
	 "1:m1:S", "m1:S:1-V7 n1:", "1:", "", "",
	 "DROP_ROW r0 !validity KEEP l0 !stale UPLOAD l1 = DOWNLOAD s0"},
	{"R17 pop3 new local file stays local", RECONCILE_POP3, 1, 0, 0,
	 "", "d1:", "", "", "", "KEEP l0 !local_only"},
	{"R17 pop3 moved-in tagged file stays", RECONCILE_POP3, 1, 0, 0,
	 "", "d1::1-V7-Fb", "", "b:7:1:-", "", "KEEP l0 !local_only"},
	{"R17 pop3 local delete, sda 1: DELE", RECONCILE_POP3, 1, 0, 0,
	 "u1:m1:", "", "u1:", "", "", "SERVER_DELETE r0 s0"},
	{"R17 pop3 local delete, sda 2: left", RECONCILE_POP3, 2, 0, 0,
	 "u1:m1:", "", "u1:", "", "", "TOMBSTONE r0 s0"},
	{"R17 pop3 tombstone, sda 2: nothing", RECONCILE_POP3, 2, 0, 0,
	 "u1:m1::t", "", "u1:", "", "", ""},
	{"R17 pop3 server gone: file stays", RECONCILE_POP3, 1, 0, 0,
	 "u1:m1:", "m1:", "", "", "", "DROP_ROW r0 l0"},
	{"R17 pop3 new uidl", RECONCILE_POP3, 1, 0, 0,
	 "u1:m1:", "m1:", "u1: u2:", "", "", "DOWNLOAD s1"},
	{"R17 pop3 tagged file, no row: adopt", RECONCILE_POP3, 1, 0, 0,
	 "", "n1::L=u2", "u2:", "", "", "ADOPT l0 s0 ="},
	{"R17 pop3 tagged file of a row: stays", RECONCILE_POP3, 1, 0, 0,
	 "u2:m2:", "m2: n1::L=u2", "u2:", "", "", "KEEP l1 !local_only"},
	{"R17 pop3 age out", RECONCILE_POP3, 1, 0, 0,
	 "u1:m1:", "m1:", "u1::o", "", "", "AGE_OUT r0 l0 s0"},
	{"R17 pop3 back inside the window", RECONCILE_POP3, 1, 0, 0,
	 "u1:m1::a", "", "u1:", "", "", "DOWNLOAD r0 s0"},
	{"R17 pop3 moved to another folder, sda 1: kept", RECONCILE_POP3, 1,
	 0, 0, "u1:m1:", "", "u1:", "", "w:L=u1", "KEEP r0 s0 !moved_away"},
	{"R17 pop3 moved to another folder, sda 2: kept", RECONCILE_POP3, 2,
	 0, 0, "u1:m1:", "", "u1:", "", "w:L=u1", "KEEP r0 s0 !moved_away"},
	{"R17 pop3 T here, copy in another folder: kept", RECONCILE_POP3, 1,
	 0, 0, "u1:m1:", "m1:T", "u1:", "", "w:L=u1",
	 "KEEP r0 l0 s0 !moved_away"},
	{"R17 pop3 moved, outside the window: no age out", RECONCILE_POP3, 1,
	 0, 0, "u1:m1:", "", "u1::o", "", "w:L=u1", "KEEP r0 s0 !moved_away"},
	{"R17 pop3 moved, server gone: row dropped", RECONCILE_POP3, 1, 0, 0,
	 "u1:m1:", "", "", "", "w:L=u1", "DROP_ROW r0"},
	{"R17 pop3 copied to another folder: nothing", RECONCILE_POP3, 1, 0,
	 0, "u1:m1:", "m1:", "u1:", "", "w:L=u1", ""},
	{"R5 pop3 another message elsewhere: still a delete", RECONCILE_POP3,
	 1, 0, 0, "u1:m1:", "", "u1:", "", "w:L=u2", "SERVER_DELETE r0 s0"},
	{"R5 pop3 a ref held by this folder: still a delete", RECONCILE_POP3,
	 1, 0, 0, "u1:m1:", "", "u1:", "", "a:L=u1", "SERVER_DELETE r0 s0"},
	{"R17 pop3 tombstone elsewhere too: stays", RECONCILE_POP3, 1, 0, 0,
	 "u1:m1::t", "", "u1:", "", "w:L=u1", "SERVER_DELETE r0 s0"},
	{"R17 pop3 moved under a new name, sda 1: kept", RECONCILE_POP3, 1,
	 0, 0, "u1:m1::m", "", "u1:", "", "", "KEEP r0 s0 !moved_away"},
	{"R17 pop3 moved under a new name, outside the window", RECONCILE_POP3,
	 1, 0, 0, "u1:m1::m", "", "u1::o", "", "", "KEEP r0 s0 !moved_away"},
	{"R17 pop3 moved under a new name, server gone", RECONCILE_POP3, 1, 0,
	 0, "u1:m1::m", "", "", "", "", "DROP_ROW r0"},
};
/* clang-format on */

static unsigned
rec_flags(const char *s, size_t n)
{
	unsigned f = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == 'S')
			f |= RECONCILE_FLAG_SEEN;
		else if (s[i] == 'F')
			f |= RECONCILE_FLAG_FLAGGED;
		else if (s[i] == 'R')
			f |= RECONCILE_FLAG_ANSWERED;
		else if (s[i] == 'T')
			f |= RECONCILE_FLAG_TRASHED;
	}
	return f;
}

/* Splits "a:b:c d:e" into items and fields; buf holds the copies. */
struct rec_items {
	char buf[512];
	char *f[MAXN][5];
	size_t n;
};

static void
rec_split(const char *spec, struct rec_items *it)
{
	static char empty[] = "";
	char *p = it->buf;

	memset(it, 0, sizeof(*it));
	ck_assert_uint_lt(strlen(spec), sizeof(it->buf));
	memcpy(it->buf, spec, strlen(spec) + 1);
	for (;;) {
		size_t k = 0;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		ck_assert_uint_lt(it->n, MAXN);
		for (size_t j = 0; j < 5; j++)
			it->f[it->n][j] = empty; /* a missing field is "" */
		it->f[it->n][k++] = p;
		while (*p != '\0' && *p != ' ') {
			if (*p == ':' && k < 5) {
				*p = '\0';
				it->f[it->n][k++] = p + 1;
			}
			p++;
		}
		if (*p == ' ')
			*p++ = '\0';
		it->n++;
	}
}

static const char *
rec_field(const struct rec_items *it, size_t i, size_t k)
{
	return it->f[i][k];
}

static const char *const kind_names[] = {
	"DOWNLOAD", "ADOPT",   "UPLOAD",       "SERVER_MOVE",   "SERVER_COPY",
	"PUSH",     "PULL",    "LOCAL_DELETE", "SERVER_DELETE", "TOMBSTONE",
	"DROP_ROW", "AGE_OUT", "KEEP",
};
static const char *const reason_names[] = {
	"",        "moved_away", "ambiguous",  "stale",
	"changed", "validity",   "local_only", "source_gone",
};

static void
rec_letters(unsigned f, char *out, size_t cap, size_t *len)
{
	if ((f & RECONCILE_FLAG_FLAGGED) != 0)
		*len += (size_t)snprintf(out + *len, cap - *len, "F");
	if ((f & RECONCILE_FLAG_ANSWERED) != 0)
		*len += (size_t)snprintf(out + *len, cap - *len, "R");
	if ((f & RECONCILE_FLAG_SEEN) != 0)
		*len += (size_t)snprintf(out + *len, cap - *len, "S");
}

static void
rec_render(const struct reconcile_plan *p, char *out, size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < p->n && len + 64 < cap; i++) {
		const struct reconcile_action *a = &p->v[i];

		len += (size_t)snprintf(out + len, cap - len, "%s%s",
					len > 0 ? " " : "",
					kind_names[a->kind]);
		if (a->row != RECONCILE_NONE)
			len += (size_t)snprintf(out + len, cap - len, " r%zu",
						a->row);
		if (a->local != RECONCILE_NONE)
			len += (size_t)snprintf(out + len, cap - len, " l%zu",
						a->local);
		if (a->server != RECONCILE_NONE)
			len += (size_t)snprintf(out + len, cap - len, " s%zu",
						a->server);
		if (a->kind == RECONCILE_PUSH_FLAGS) {
			len += (size_t)snprintf(out + len, cap - len, " +");
			rec_letters(a->add, out, cap, &len);
			len += (size_t)snprintf(out + len, cap - len, "-");
			rec_letters(a->remove, out, cap, &len);
		} else if (a->kind == RECONCILE_UPLOAD ||
			   a->kind == RECONCILE_ADOPT ||
			   a->kind == RECONCILE_PULL_FLAGS ||
			   a->kind == RECONCILE_SERVER_MOVE ||
			   a->kind == RECONCILE_SERVER_COPY) {
			len += (size_t)snprintf(out + len, cap - len, " =");
			rec_letters(a->flags, out, cap, &len);
		}
		if (a->from != NULL)
			len += (size_t)snprintf(out + len, cap - len, " <%s",
						a->from->folder_id);
		if (a->reason != RECONCILE_REASON_NONE)
			len += (size_t)snprintf(out + len, cap - len, " !%s",
						reason_names[a->reason]);
	}
}

START_TEST(test_reconcile_rules_table)
{
	const struct rec_row *t = &rec_rows[_i];
	struct rec_items ir, il, is, ix, iref;
	struct reconcile_row rows[MAXN];
	struct reconcile_local local[MAXN];
	struct reconcile_server server[MAXN];
	struct reconcile_index_entry index[MAXN];
	struct reconcile_tagref refs[MAXN];
	struct reconcile_input in = {0};
	struct reconcile_plan plan = {0};
	struct e2_err err = {0};
	char got[1024];

	memset(rows, 0, sizeof(rows));
	memset(local, 0, sizeof(local));
	memset(server, 0, sizeof(server));
	memset(index, 0, sizeof(index));
	memset(refs, 0, sizeof(refs));
	rec_split(t->rows, &ir);
	rec_split(t->local, &il);
	rec_split(t->server, &is);
	rec_split(t->index, &ix);
	rec_split(t->refs, &iref);
	for (size_t i = 0; i < ir.n; i++) {
		const char *k = rec_field(&ir, i, 0), *x = rec_field(&ir, i, 3);

		if (t->proto == RECONCILE_POP3)
			rows[i].uidl = k;
		else
			rows[i].uid = (uint32_t)strtoul(k, NULL, 10);
		rows[i].local_name = rec_field(&ir, i, 1);
		rows[i].flags = rec_flags(rec_field(&ir, i, 2),
					  strlen(rec_field(&ir, i, 2)));
		rows[i].tombstone = strcmp(x, "t") == 0;
		rows[i].aged_out = strcmp(x, "a") == 0;
		rows[i].moved = strcmp(x, "m") == 0;
	}
	for (size_t i = 0; i < il.n; i++) {
		const char *tag = rec_field(&il, i, 2);

		local[i].uniq = rec_field(&il, i, 0);
		local[i].flags = rec_flags(rec_field(&il, i, 1),
					   strlen(rec_field(&il, i, 1)));
		if (strncmp(tag, "L=", 2) == 0)
			local[i].pop3_uidl = tag + 2;
		else
			local[i].has_tag =
				reconcile_tag_parse(tag, &local[i].tag);
	}
	for (size_t i = 0; i < is.n; i++) {
		const char *k = rec_field(&is, i, 0);

		if (t->proto == RECONCILE_POP3)
			server[i].uidl = k;
		else
			server[i].uid = (uint32_t)strtoul(k, NULL, 10);
		server[i].flags = rec_flags(rec_field(&is, i, 1),
					    strlen(rec_field(&is, i, 1)));
		server[i].outside_window =
			strcmp(rec_field(&is, i, 2), "o") == 0;
	}
	for (size_t i = 0; i < ix.n; i++) {
		const char *st = rec_field(&ix, i, 3);

		index[i].folder_id = rec_field(&ix, i, 0);
		index[i].uidvalidity =
			(uint32_t)strtoul(rec_field(&ix, i, 1), NULL, 10);
		index[i].uid =
			(uint32_t)strtoul(rec_field(&ix, i, 2), NULL, 10);
		index[i].file_present = strcmp(st, "p") == 0;
		index[i].server_gone = strcmp(st, "g") == 0;
	}
	for (size_t i = 0; i < iref.n; i++) {
		const char *tag = rec_field(&iref, i, 1);

		refs[i].holder_id = rec_field(&iref, i, 0);
		if (strncmp(tag, "L=", 2) == 0)
			refs[i].pop3_uidl = tag + 2;
		else
			ck_assert(reconcile_tag_parse(tag, &refs[i].tag));
	}
	in.proto = t->proto;
	in.serverdeleteaction = t->sda;
	in.folder_id = "a";
	in.uidvalidity = t->cur;
	in.stored_uidvalidity = t->stored;
	in.rows = rows;
	in.nrows = ir.n;
	in.local = local;
	in.nlocal = il.n;
	in.server = server;
	in.nserver = is.n;
	in.index = index;
	in.nindex = ix.n;
	in.refs = refs;
	in.nrefs = iref.n;
	ck_assert_int_eq(reconcile_folder(&in, &plan, &err), E2_OK);
	rec_render(&plan, got, sizeof(got));
	ck_assert_msg(strcmp(got, t->want) == 0, "%s: got \"%s\", want \"%s\"",
		      t->name, got, t->want);
	reconcile_plan_free(&plan);
	reconcile_plan_free(&plan);
}
END_TEST

struct tag_row {
	const char *val;
	bool ok;
	uint32_t uid, v;
	const char *id;
};

static const struct tag_row tag_rows[] = {
	{"12-V7", true, 12, 7, ""},
	{"12-V7-Fa0", true, 12, 7, "a0"},
	{"4294967295-V4294967295-Fzzzzzzzzzzzzzzzz", true, 4294967295u,
	 4294967295u, "zzzzzzzzzzzzzzzz"},
	{"", false, 0, 0, ""},
	{"0-V7", false, 0, 0, ""},
	{"12-V0", false, 0, 0, ""},
	{"12-V", false, 0, 0, ""},
	{"12V7", false, 0, 0, ""},
	{"4294967296-V7", false, 0, 0, ""},
	{"12-V7-F", false, 0, 0, ""},
	{"12-V7-FA", false, 0, 0, ""},
	{"12-V7-Fa-", false, 0, 0, ""},
	{"12-V7-Fzzzzzzzzzzzzzzzzz", false, 0, 0, ""},
	{"-12-V7", false, 0, 0, ""},
	{"12-V7x", false, 0, 0, ""},
};

START_TEST(test_reconcile_tag_parse_table)
{
	const struct tag_row *t = &tag_rows[_i];
	struct reconcile_tag tag = {0};

	ck_assert_msg(reconcile_tag_parse(t->val, &tag) == t->ok, "\"%s\"",
		      t->val);
	if (!t->ok)
		return;
	ck_assert_uint_eq(tag.uid, t->uid);
	ck_assert_uint_eq(tag.uidvalidity, t->v);
	ck_assert_str_eq(tag.folder_id, t->id);
}
END_TEST

START_TEST(test_reconcile_tag_format_round_trip)
{
	char buf[RECONCILE_TAG_MAX];
	struct reconcile_tag tag;
	struct e2_err err = {0};

	ck_assert_int_eq(reconcile_tag_format(4294967295u, 4294967295u,
					      "zzzzzzzzzzzzzzzz", buf, &err),
			 E2_OK);
	ck_assert(reconcile_tag_parse(buf, &tag));
	ck_assert_uint_eq(tag.uid, 4294967295u);
	ck_assert_str_eq(tag.folder_id, "zzzzzzzzzzzzzzzz");
	ck_assert_int_eq(reconcile_tag_format(1, 7, "A", buf, &err), E2_EINVAL);
	ck_assert_int_eq(reconcile_tag_format(1, 7, "", buf, &err), E2_EINVAL);
	ck_assert_int_eq(reconcile_tag_format(0, 7, "a", buf, &err), E2_EINVAL);
}
END_TEST

struct folder_row {
	const char *name;
	struct reconcile_folder_state fs;
	enum reconcile_folder_action want;
};

static const struct folder_row folder_rows[] = {
	{"F1 new local folder",
	 {true, false, false, 3},
	 RECONCILE_FOLDER_CREATE_SERVER},
	{"F1 new empty local folder",
	 {true, false, false, 0},
	 RECONCILE_FOLDER_CREATE_SERVER},
	{"F2 server folder gone, all synced",
	 {true, false, true, 0},
	 RECONCILE_FOLDER_REMOVE_LOCAL},
	{"F3 server folder gone, unsynced mail",
	 {true, false, true, 1},
	 RECONCILE_FOLDER_KEEP_REPORT},
	{"F4 local folder gone",
	 {false, true, true, 0},
	 RECONCILE_FOLDER_DOWNLOAD},
	{"F5 new server folder",
	 {false, true, false, 0},
	 RECONCILE_FOLDER_DOWNLOAD},
	{"F6 both sides", {true, true, true, 5}, RECONCILE_FOLDER_SYNC},
	{"F6 both sides, first sync",
	 {true, true, false, 5},
	 RECONCILE_FOLDER_SYNC},
	{"neither side", {false, false, true, 0}, RECONCILE_FOLDER_FORGET},
};

START_TEST(test_reconcile_folder_decide_table)
{
	const struct folder_row *t = &folder_rows[_i];

	ck_assert_msg(reconcile_folder_decide(&t->fs) == t->want, "%s",
		      t->name);
}
END_TEST

/*
 * R18: orphans and files as "folder=message-id" items separated by '|'
 * (an item "b=" has an empty id, "b" none at all); want is, per orphan,
 * the index of its file or '-', space-separated.
 */
struct pair_row {
	const char *name;
	const char *orphans, *files;
	const char *want;
};

/* clang-format off */
static const struct pair_row pair_rows[] = {
	{"R18 one save", "a=<m1@x.org>", "b=<m1@x.org>", "0"},
	{"R18 brackets and whitespace", "a=<m1@x.org>", "b=  m1@x.org \t",
	 "0"},
	{"R18 folded id", "a=<m1@\r\n x.org>", "b=<m1@x.org>", "0"},
	{"R18 domain case ignored", "a=<m1@X.Org>", "b=<m1@x.ORG>", "0"},
	{"R18 local part case kept", "a=<M1@x.org>", "b=<m1@x.org>", "-"},
	{"R18 no file with the id", "a=<m1@x.org>", "b=<m2@x.org>", "-"},
	{"R18 two files, one id", "a=<m1@x.org>", "b=<m1@x.org>|c=<m1@x.org>",
	 "-"},
	{"R18 two orphans, one id", "a=<m1@x.org>|c=<m1@x.org>",
	 "b=<m1@x.org>", "- -"},
	{"R18 empty id", "a=", "b=", "-"},
	{"R18 no id", "a", "b", "-"},
	{"R18 empty brackets", "a=<>", "b=<>", "-"},
	{"R18 bracket inside", "a=<m<1@x.org>", "b=<m<1@x.org>", "-"},
	{"R18 control byte", "a=<m\0011@x.org>", "b=<m\0011@x.org>", "-"},
	{"R18 same folder is an edit", "a=<m1@x.org>", "a=<m1@x.org>", "-"},
	{"R18 several saves", "a=<m1@x.org>|a=<m2@x.org>|c=<m3@x.org>",
	 "b=<m3@x.org>|b=<m9@x.org>|d=<m1@x.org>|b=<m2@x.org>", "2 3 0"},
	{"R18 no orphans", "", "b=<m1@x.org>", ""},
	{"R18 no files", "a=<m1@x.org>", "", "-"},
};
/* clang-format on */

/* Splits spec into sides; strings point into buf. */
static size_t
pair_parse(const char *spec, char *buf, size_t bufsz,
	   struct reconcile_save_side *v)
{
	size_t n = 0;
	char *p;

	if (spec[0] == '\0')
		return 0;
	snprintf(buf, bufsz, "%s", spec);
	p = buf;
	while (p != NULL && n < MAXN) {
		char *next = strchr(p, '|');
		char *eq;

		if (next != NULL)
			*next++ = '\0';
		eq = strchr(p, '=');
		v[n].folder_id = p;
		v[n].message_id = NULL;
		if (eq != NULL) {
			*eq = '\0';
			v[n].message_id = eq + 1;
		}
		n++;
		p = next;
	}
	return n;
}

START_TEST(test_reconcile_pair_saves_table)
{
	const struct pair_row *t = &pair_rows[_i];
	struct reconcile_save_side o[MAXN], f[MAXN];
	char ob[512], fb[512], got[64] = "";
	size_t pair[MAXN], no, nf;
	struct e2_err err = {0};

	no = pair_parse(t->orphans, ob, sizeof(ob), o);
	nf = pair_parse(t->files, fb, sizeof(fb), f);
	ck_assert_int_eq(reconcile_pair_saves(o, no, f, nf, pair, &err), E2_OK);
	for (size_t i = 0; i < no; i++) {
		size_t len = strlen(got);

		if (pair[i] == RECONCILE_NONE)
			snprintf(got + len, sizeof(got) - len, "%s-",
				 i ? " " : "");
		else
			snprintf(got + len, sizeof(got) - len, "%s%zu",
				 i ? " " : "", pair[i]);
	}
	ck_assert_msg(strcmp(got, t->want) == 0, "%s: got \"%s\" want \"%s\"",
		      t->name, got, t->want);
}
END_TEST

START_TEST(test_reconcile_msgid_normalize)
{
	char out[RECONCILE_MSGID_MAX + 1];
	char big[RECONCILE_MSGID_MAX + 8];

	ck_assert(reconcile_msgid_normalize("<Ab.C@Mail.Example.COM>", out));
	ck_assert_str_eq(out, "Ab.C@mail.example.com");
	ck_assert(reconcile_msgid_normalize("no-at-sign", out));
	ck_assert_str_eq(out, "no-at-sign");
	ck_assert(!reconcile_msgid_normalize(NULL, out));
	ck_assert(!reconcile_msgid_normalize(" \t", out));
	ck_assert(!reconcile_msgid_normalize("<a@b\xc3\xa9>", out));
	ck_assert_str_eq(out, "");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert(!reconcile_msgid_normalize(big, out));
}
END_TEST

START_TEST(test_reconcile_unsorted_is_einval)
{
	struct reconcile_server s[2] = {{.uid = 5}, {.uid = 3}};
	struct reconcile_input in = {.proto = RECONCILE_IMAP,
				     .folder_id = "a",
				     .uidvalidity = 1,
				     .server = s,
				     .nserver = 2};
	struct reconcile_plan plan = {0};
	struct e2_err err = {0};

	ck_assert_int_eq(reconcile_folder(&in, &plan, &err), E2_EINVAL);
	ck_assert_ptr_null(plan.v);
	ck_assert_str_eq(err.msg, "folder \"a\": reconcile input not sorted");
}
END_TEST

/* 100,000 rows, files and uids: one pass, no quadratic walk. */
START_TEST(test_reconcile_large_folder)
{
	enum {
		N = 100000
	};
	struct reconcile_row *rows = calloc(N, sizeof(*rows));
	struct reconcile_local *local = calloc(N, sizeof(*local));
	struct reconcile_server *server = calloc(N + 1, sizeof(*server));
	char(*names)[16] = calloc(N, sizeof(*names));
	struct reconcile_input in = {0};
	struct reconcile_plan plan = {0};
	struct e2_err err = {0};

	ck_assert(rows != NULL && local != NULL && server != NULL &&
		  names != NULL);
	for (size_t i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "m%07zu", i);
		rows[i].uid = (uint32_t)i + 1;
		rows[i].local_name = names[i];
		rows[i].flags = RECONCILE_FLAG_SEEN;
		local[i].uniq = names[i];
		local[i].flags = RECONCILE_FLAG_SEEN |
				 (i % 2 == 0 ? RECONCILE_FLAG_FLAGGED : 0);
		server[i].uid = (uint32_t)i + 1;
		server[i].flags = RECONCILE_FLAG_SEEN;
	}
	server[N].uid = N + 1;
	in.proto = RECONCILE_IMAP;
	in.folder_id = "a";
	in.uidvalidity = in.stored_uidvalidity = 1;
	in.rows = rows;
	in.nrows = N;
	in.local = local;
	in.nlocal = N;
	in.server = server;
	in.nserver = N + 1;
	ck_assert_int_eq(reconcile_folder(&in, &plan, &err), E2_OK);
	/* a push per even file (the row follows it), and the new uid */
	ck_assert_uint_eq(plan.n, N / 2 + 1);
	ck_assert_int_eq(plan.v[plan.n - 1].kind, RECONCILE_DOWNLOAD);
	reconcile_plan_free(&plan);
	free(names);
	free(server);
	free(local);
	free(rows);
}
END_TEST

static Suite *
reconcile_suite(void)
{
	Suite *s = suite_create("reconcile");
	TCase *tc;

	tc = tcase_create("rules");
	tcase_add_loop_test(tc, test_reconcile_rules_table, 0,
			    (int)E2_ARRAY_LEN(rec_rows));
	tcase_add_loop_test(tc, test_reconcile_tag_parse_table, 0,
			    (int)E2_ARRAY_LEN(tag_rows));
	tcase_add_loop_test(tc, test_reconcile_folder_decide_table, 0,
			    (int)E2_ARRAY_LEN(folder_rows));
	tcase_add_test(tc, test_reconcile_tag_format_round_trip);
	tcase_add_loop_test(tc, test_reconcile_pair_saves_table, 0,
			    E2_ARRAY_LEN(pair_rows));
	tcase_add_test(tc, test_reconcile_msgid_normalize);
	tcase_add_test(tc, test_reconcile_unsorted_is_einval);
	suite_add_tcase(s, tc);
	tc = tcase_create("scale");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_reconcile_large_folder);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(reconcile_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
