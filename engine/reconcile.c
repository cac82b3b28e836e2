/* SPDX-License-Identifier: MIT */
/* reconcile.c -- two-way reconciliation of one folder (see reconcile.h) */
#include "config.h"

#include "reconcile.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Working state of one reconcile_folder() call. */
struct reconcile_run {
	const struct reconcile_input *in;
	struct reconcile_plan *plan;
	size_t cap;
	bool *matched; /* [nlocal] a row names the file */
	bool *known;   /* [nserver] a row or an adopted file names the uid */
};

bool
reconcile_tag_parse(const char *val, struct reconcile_tag *out)
{
	struct reconcile_tag t = {0};
	unsigned long long uid, v;
	char *end;
	size_t n = 0;

	/* tag = uid "-V" uidvalidity [ "-F" 1*16(DIGIT / a-z) ] */
	if (val == NULL || val[0] < '0' || val[0] > '9')
		return false;
	uid = strtoull(val, &end, 10);
	if (end[0] != '-' || end[1] != 'V' || end[2] < '0' || end[2] > '9')
		return false;
	v = strtoull(end + 2, &end, 10);
	if (uid == 0 || uid > UINT32_MAX || v == 0 || v > UINT32_MAX)
		return false;
	if (end[0] == '-' && end[1] == 'F') {
		for (end += 2; (*end >= '0' && *end <= '9') ||
			       (*end >= 'a' && *end <= 'z');
		     end++) {
			if (n == RECONCILE_FOLDER_ID_MAX)
				return false;
			t.folder_id[n++] = *end;
		}
		if (n == 0)
			return false;
	}
	if (*end != '\0')
		return false;
	t.uid = (uint32_t)uid;
	t.uidvalidity = (uint32_t)v;
	*out = t;
	return true;
}

enum e2_status
reconcile_tag_format(uint32_t uid, uint32_t uidvalidity, const char *folder_id,
		     char out[RECONCILE_TAG_MAX], struct e2_err *err)
{
	size_t n = strlen(folder_id);

	if (uid == 0 || uidvalidity == 0 || n == 0 ||
	    n > RECONCILE_FOLDER_ID_MAX ||
	    strspn(folder_id, "0123456789abcdefghijklmnopqrstuvwxyz") != n)
		return e2_fail(err, E2_EINVAL,
			       "tag of uid %u: bad folder id or zero value",
			       (unsigned)uid);
	snprintf(out, RECONCILE_TAG_MAX, "%u-V%u-F%s", (unsigned)uid,
		 (unsigned)uidvalidity, folder_id);
	return E2_OK;
}

static int
reconcile_u32_cmp(uint32_t a, uint32_t b)
{
	return a < b ? -1 : a > b;
}

int
reconcile_index_cmp(const void *a, const void *b)
{
	const struct reconcile_index_entry *x = a, *y = b;
	int c = reconcile_u32_cmp(x->uidvalidity, y->uidvalidity);

	if (c == 0)
		c = reconcile_u32_cmp(x->uid, y->uid);
	if (c == 0)
		c = strcmp(x->folder_id, y->folder_id);
	return c;
}

int
reconcile_tagref_cmp(const void *a, const void *b)
{
	const struct reconcile_tagref *x = a, *y = b;
	int c = reconcile_u32_cmp(x->tag.uidvalidity, y->tag.uidvalidity);

	if (c == 0)
		c = reconcile_u32_cmp(x->tag.uid, y->tag.uid);
	if (c == 0)
		c = strcmp(x->pop3_uidl != NULL ? x->pop3_uidl : "",
			   y->pop3_uidl != NULL ? y->pop3_uidl : "");
	return c;
}

/* Rows and server messages share one key: uid (IMAP) or uidl (POP3). */
static int
reconcile_key_cmp(enum reconcile_proto p, uint32_t ua, const char *la,
		  uint32_t ub, const char *lb)
{
	if (p == RECONCILE_POP3)
		return strcmp(la != NULL ? la : "", lb != NULL ? lb : "");
	return reconcile_u32_cmp(ua, ub);
}

static bool
reconcile_sorted(const struct reconcile_input *in)
{
	for (size_t i = 1; i < in->nrows; i++)
		if (reconcile_key_cmp(in->proto, in->rows[i - 1].uid,
				      in->rows[i - 1].uidl, in->rows[i].uid,
				      in->rows[i].uidl) >= 0)
			return false;
	for (size_t i = 1; i < in->nserver; i++)
		if (reconcile_key_cmp(in->proto, in->server[i - 1].uid,
				      in->server[i - 1].uidl, in->server[i].uid,
				      in->server[i].uidl) >= 0)
			return false;
	for (size_t i = 1; i < in->nlocal; i++)
		if (strcmp(in->local[i - 1].uniq, in->local[i].uniq) >= 0)
			return false;
	for (size_t i = 1; i < in->nindex; i++)
		if (reconcile_index_cmp(&in->index[i - 1], &in->index[i]) > 0)
			return false;
	for (size_t i = 1; i < in->nrefs; i++)
		if (reconcile_tagref_cmp(&in->refs[i - 1], &in->refs[i]) > 0)
			return false;
	return true;
}

static size_t
reconcile_local_find(const struct reconcile_input *in, const char *uniq)
{
	size_t lo = 0, hi = in->nlocal;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(in->local[mid].uniq, uniq);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return RECONCILE_NONE;
}

/* IMAP only: the server message with uid. */
static size_t
reconcile_server_find(const struct reconcile_input *in, uint32_t uid)
{
	size_t lo = 0, hi = in->nserver;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (in->server[mid].uid == uid)
			return mid;
		if (in->server[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return RECONCILE_NONE;
}

/* First index entry with (uidvalidity, uid), or nindex. */
static size_t
reconcile_index_lower(const struct reconcile_input *in, uint32_t v,
		      uint32_t uid)
{
	struct reconcile_index_entry key = {
		.folder_id = "", .uidvalidity = v, .uid = uid};
	size_t lo = 0, hi = in->nindex;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (reconcile_index_cmp(&in->index[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* R7/R10 seen from A: does a file of another folder name this row? */
static bool
reconcile_named_elsewhere(const struct reconcile_input *in, uint32_t uid)
{
	struct reconcile_tagref key = {
		.tag = {.uid = uid, .uidvalidity = in->uidvalidity}};
	size_t lo = 0, hi = in->nrefs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (reconcile_tagref_cmp(&in->refs[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < in->nrefs && reconcile_tagref_cmp(&in->refs[lo], &key) == 0;
	     lo++) {
		const struct reconcile_tagref *r = &in->refs[lo];

		if (strcmp(r->holder_id, in->folder_id) == 0)
			continue;
		/* an old-form tag might be ours: never delete on a maybe */
		if (r->tag.folder_id[0] == '\0' ||
		    strcmp(r->tag.folder_id, in->folder_id) == 0)
			return true;
	}
	return false;
}

static struct reconcile_action *
reconcile_emit(struct reconcile_run *r, enum reconcile_kind kind,
	       enum reconcile_reason reason, size_t row, size_t local,
	       size_t server)
{
	struct reconcile_action *a;

	/* the capacity bounds what one row, file and uid can emit */
	assert(r->plan->n < r->cap);
	a = &r->plan->v[r->plan->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->reason = reason;
	a->row = row;
	a->local = local;
	a->server = server;
	return a;
}

/* R17: does a file of another folder name this POP3 row (a local move)? */
static bool
reconcile_pop3_moved(const struct reconcile_input *in, const char *uidl)
{
	struct reconcile_tagref key = {.pop3_uidl = uidl};
	size_t lo = 0, hi = in->nrefs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (reconcile_tagref_cmp(&in->refs[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < in->nrefs && reconcile_tagref_cmp(&in->refs[lo], &key) == 0;
	     lo++)
		if (strcmp(in->refs[lo].holder_id, in->folder_id) != 0)
			return true;
	return false;
}

static void
reconcile_pop3_row(struct reconcile_run *r, size_t i, size_t lf, size_t s)
{
	const struct reconcile_input *in = r->in;
	const struct reconcile_row *row = &in->rows[i];
	bool dele = in->serverdeleteaction == 1;

	if (s == RECONCILE_NONE) {
		/* R17: the server let it go; the user's copy stays */
		reconcile_emit(r, RECONCILE_DROP_ROW, RECONCILE_REASON_NONE, i,
			       lf, s);
		return;
	}
	r->known[s] = true;
	if (row->moved) { /* R17: moved away under a new name */
		reconcile_emit(r, RECONCILE_KEEP, RECONCILE_REASON_MOVED_AWAY,
			       i, lf, s);
		return;
	}
	if (row->tombstone) {
		if (dele)
			reconcile_emit(r, RECONCILE_SERVER_DELETE,
				       RECONCILE_REASON_NONE, i, lf, s);
		return;
	}
	if (row->aged_out) {
		if (!in->server[s].outside_window)
			reconcile_emit(r, RECONCILE_DOWNLOAD,
				       RECONCILE_REASON_NONE, i, lf, s);
		return;
	}
	if ((lf == RECONCILE_NONE ||
	     (in->local[lf].flags & RECONCILE_FLAG_TRASHED) != 0) &&
	    reconcile_pop3_moved(in, row->uidl)) {
		/* R17: moved to another folder, not deleted */
		reconcile_emit(r, RECONCILE_KEEP, RECONCILE_REASON_MOVED_AWAY,
			       i, lf, s);
		return;
	}
	if (lf == RECONCILE_NONE ||
	    (in->local[lf].flags & RECONCILE_FLAG_TRASHED) != 0) {
		reconcile_emit(
			r, dele ? RECONCILE_SERVER_DELETE : RECONCILE_TOMBSTONE,
			RECONCILE_REASON_NONE, i, lf, s);
		return;
	}
	if (in->server[s].outside_window)
		reconcile_emit(r, RECONCILE_AGE_OUT, RECONCILE_REASON_NONE, i,
			       lf, s);
}

/* R17, and R12 for a POP3 file whose row never committed. */
static void
reconcile_pop3_file(struct reconcile_run *r, size_t lf)
{
	const struct reconcile_input *in = r->in;
	const char *uidl = in->local[lf].pop3_uidl;
	size_t lo = 0, hi = in->nserver;

	while (uidl != NULL && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(in->server[mid].uidl, uidl);

		if (c == 0 && !r->known[mid]) {
			r->known[mid] = true;
			reconcile_emit(r, RECONCILE_ADOPT,
				       RECONCILE_REASON_NONE, RECONCILE_NONE,
				       lf, mid);
			return;
		}
		if (c == 0)
			break;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	reconcile_emit(r, RECONCILE_KEEP, RECONCILE_REASON_LOCAL_ONLY,
		       RECONCILE_NONE, lf, RECONCILE_NONE);
}

static void
reconcile_imap_row(struct reconcile_run *r, size_t i, size_t lf, size_t s)
{
	const struct reconcile_input *in = r->in;
	const struct reconcile_row *row = &in->rows[i];
	bool gone = lf == RECONCILE_NONE ||
		    (in->local[lf].flags & RECONCILE_FLAG_TRASHED) != 0;
	unsigned l, b = row->flags & RECONCILE_SYNCED, sv, ch, res;
	struct reconcile_action *a;
	bool push;

	if (s == RECONCILE_NONE) {
		if (gone) /* R4 */
			reconcile_emit(r, RECONCILE_DROP_ROW,
				       RECONCILE_REASON_NONE, i, lf, s);
		else if ((in->local[lf].flags & RECONCILE_SYNCED) != b) /* R3 */
			reconcile_emit(r, RECONCILE_UPLOAD,
				       RECONCILE_REASON_CHANGED, i, lf, s)
				->flags =
				in->local[lf].flags & RECONCILE_SYNCED;
		else /* R2 */
			reconcile_emit(r, RECONCILE_LOCAL_DELETE,
				       RECONCILE_REASON_NONE, i, lf, s);
		return;
	}
	r->known[s] = true;
	sv = in->server[s].flags & RECONCILE_SYNCED;
	if (gone) {
		if (reconcile_named_elsewhere(in, row->uid)) /* R7, R10 */
			reconcile_emit(r, RECONCILE_KEEP,
				       RECONCILE_REASON_MOVED_AWAY, i, lf, s);
		else if (sv != b && lf == RECONCILE_NONE) /* R6 */
			reconcile_emit(r, RECONCILE_DOWNLOAD,
				       RECONCILE_REASON_CHANGED, i, lf, s);
		else if (sv != b) /* R6, T: clear T, take the server's */
			reconcile_emit(r, RECONCILE_PULL_FLAGS,
				       RECONCILE_REASON_CHANGED, i, lf, s)
				->flags = sv;
		else /* R5 */
			reconcile_emit(r, RECONCILE_SERVER_DELETE,
				       RECONCILE_REASON_NONE, i, lf, s);
		return;
	}
	/* R1: per flag, the side that changed; both: local */
	l = in->local[lf].flags & RECONCILE_SYNCED;
	ch = l ^ b;
	res = (l & ch) | (sv & ~ch);
	push = ((l ^ sv) & ch) != 0;
	if (push) {
		/* the driver writes flags into the row after the push */
		a = reconcile_emit(r, RECONCILE_PUSH_FLAGS,
				   RECONCILE_REASON_NONE, i, lf, s);
		a->add = ch & l & ~sv;
		a->remove = ch & ~l & sv;
		a->flags = res;
	}
	/* the file changes, or only the row (both sides did the same) */
	if (res != l || (res != b && !push))
		reconcile_emit(r, RECONCILE_PULL_FLAGS, RECONCILE_REASON_NONE,
			       i, lf, s)
			->flags = res;
	if (in->server[s].outside_window) /* R15 */
		reconcile_emit(r, RECONCILE_AGE_OUT, RECONCILE_REASON_NONE, i,
			       lf, s);
}

/* R7-R9 seen from B: the row e of another folder named by file lf. */
static void
reconcile_from_other(struct reconcile_run *r, size_t lf,
		     const struct reconcile_index_entry *e,
		     enum reconcile_reason reason)
{
	struct reconcile_action *a;
	unsigned fl = r->in->local[lf].flags & RECONCILE_SYNCED;

	if (e->server_gone) {
		a = reconcile_emit(r, RECONCILE_UPLOAD,
				   RECONCILE_REASON_SOURCE_GONE, RECONCILE_NONE,
				   lf, RECONCILE_NONE);
	} else {
		a = reconcile_emit(r,
				   e->file_present ? RECONCILE_SERVER_COPY
						   : RECONCILE_SERVER_MOVE,
				   reason, RECONCILE_NONE, lf, RECONCILE_NONE);
		a->from = e;
	}
	a->flags = fl;
}

static void
reconcile_upload(struct reconcile_run *r, size_t lf,
		 enum reconcile_reason reason)
{
	reconcile_emit(r, RECONCILE_UPLOAD, reason, RECONCILE_NONE, lf,
		       RECONCILE_NONE)
		->flags = r->in->local[lf].flags & RECONCILE_SYNCED;
}

/* R12 or an upload: a file tagged with this folder's live uid. */
static void
reconcile_own(struct reconcile_run *r, size_t lf, uint32_t uid)
{
	size_t s = reconcile_server_find(r->in, uid);

	if (s != RECONCILE_NONE && !r->known[s]) {
		r->known[s] = true;
		reconcile_emit(r, RECONCILE_ADOPT, RECONCILE_REASON_NONE,
			       RECONCILE_NONE, lf, s)
			->flags = r->in->local[lf].flags & RECONCILE_SYNCED;
		return;
	}
	/* expunged before its row committed, or a second copy: keep it */
	reconcile_upload(r, lf,
			 s == RECONCILE_NONE ? RECONCILE_REASON_SOURCE_GONE
					     : RECONCILE_REASON_NONE);
}

static void
reconcile_imap_file(struct reconcile_run *r, size_t lf, bool void_rows)
{
	const struct reconcile_input *in = r->in;
	const struct reconcile_tag *t = &in->local[lf].tag;
	const struct reconcile_index_entry *other = NULL;
	size_t k, ncand = 0;
	bool self = false;

	if ((in->local[lf].flags & RECONCILE_FLAG_TRASHED) != 0) {
		reconcile_emit(r, RECONCILE_KEEP, RECONCILE_REASON_NONE,
			       RECONCILE_NONE, lf, RECONCILE_NONE);
		return;
	}
	if (!in->local[lf].has_tag) { /* R11 */
		reconcile_upload(r, lf, RECONCILE_REASON_NONE);
		return;
	}
	if (strcmp(t->folder_id, in->folder_id) == 0 ||
	    (t->folder_id[0] == '\0' && void_rows &&
	     t->uidvalidity == in->stored_uidvalidity)) {
		if (t->uidvalidity != in->uidvalidity) /* R13 */
			reconcile_emit(r, RECONCILE_KEEP,
				       RECONCILE_REASON_STALE, RECONCILE_NONE,
				       lf, RECONCILE_NONE);
		else
			reconcile_own(r, lf, t->uid);
		return;
	}
	/* candidates: other folders' rows, and this folder (old form) */
	for (k = reconcile_index_lower(in, t->uidvalidity, t->uid);
	     k < in->nindex && in->index[k].uidvalidity == t->uidvalidity &&
	     in->index[k].uid == t->uid;
	     k++) {
		const struct reconcile_index_entry *e = &in->index[k];

		if (strcmp(e->folder_id, in->folder_id) == 0)
			continue;
		if (t->folder_id[0] != '\0' &&
		    strcmp(t->folder_id, e->folder_id) != 0)
			continue;
		other = e;
		ncand++;
	}
	if (t->folder_id[0] == '\0' && t->uidvalidity == in->uidvalidity &&
	    reconcile_server_find(in, t->uid) != RECONCILE_NONE) {
		self = true;
		ncand++;
	}
	if (ncand > 1) /* R10 */
		reconcile_upload(r, lf, RECONCILE_REASON_AMBIGUOUS);
	else if (self) /* R12 */
		reconcile_own(r, lf, t->uid);
	else if (other != NULL) /* R7-R9 */
		reconcile_from_other(r, lf, other, RECONCILE_REASON_NONE);
	else /* R11: a tag nobody knows is new mail */
		reconcile_upload(r, lf, RECONCILE_REASON_NONE);
}

enum e2_status
reconcile_folder(const struct reconcile_input *in,
		 struct reconcile_plan *plan_out, struct e2_err *err)
{
	struct reconcile_plan plan = {0};
	struct reconcile_run r = {.in = in, .plan = &plan};
	bool void_rows = in->proto == RECONCILE_IMAP &&
			 in->stored_uidvalidity != 0 &&
			 in->stored_uidvalidity != in->uidvalidity;
	size_t s = 0;

	if (!reconcile_sorted(in))
		return e2_fail(err, E2_EINVAL,
			       "folder \"%s\": reconcile input not sorted",
			       in->folder_id);
	/* at most three actions per row, one per file and one per uid */
	r.cap = 3 * in->nrows + in->nlocal + in->nserver;
	plan.v = calloc(r.cap + 1, sizeof(*plan.v));
	r.matched = calloc(in->nlocal + in->nserver + 1, sizeof(bool));
	if (plan.v == NULL || r.matched == NULL) {
		free(plan.v);
		free(r.matched);
		return e2_fail(err, E2_ENOMEM, "reconcile: out of memory");
	}
	r.known = r.matched + in->nlocal;

	for (size_t i = 0; i < in->nrows; i++) {
		const struct reconcile_row *row = &in->rows[i];
		size_t lf, sv = RECONCILE_NONE;

		if (void_rows) { /* R16 */
			reconcile_emit(&r, RECONCILE_DROP_ROW,
				       RECONCILE_REASON_VALIDITY, i,
				       RECONCILE_NONE, RECONCILE_NONE);
			continue;
		}
		lf = reconcile_local_find(in, row->local_name);
		if (lf != RECONCILE_NONE)
			r.matched[lf] = true;
		while (s < in->nserver &&
		       reconcile_key_cmp(in->proto, in->server[s].uid,
					 in->server[s].uidl, row->uid,
					 row->uidl) < 0)
			s++;
		if (s < in->nserver &&
		    reconcile_key_cmp(in->proto, in->server[s].uid,
				      in->server[s].uidl, row->uid,
				      row->uidl) == 0)
			sv = s;
		if (in->proto == RECONCILE_POP3)
			reconcile_pop3_row(&r, i, lf, sv);
		else
			reconcile_imap_row(&r, i, lf, sv);
	}
	for (size_t i = 0; i < in->nlocal; i++) {
		if (r.matched[i])
			continue;
		if (in->proto == RECONCILE_POP3)
			reconcile_pop3_file(&r, i);
		else
			reconcile_imap_file(&r, i, void_rows);
	}
	for (size_t i = 0; i < in->nserver; i++) /* R14 */
		if (!r.known[i] && !in->server[i].outside_window)
			reconcile_emit(&r, RECONCILE_DOWNLOAD,
				       RECONCILE_REASON_NONE, RECONCILE_NONE,
				       RECONCILE_NONE, i);
	free(r.matched);
	*plan_out = plan;
	return E2_OK;
}

void
reconcile_plan_free(struct reconcile_plan *plan)
{
	if (plan == NULL)
		return;
	free(plan->v);
	plan->v = NULL;
	plan->n = 0;
}

enum reconcile_folder_action
reconcile_folder_decide(const struct reconcile_folder_state *fs)
{
	if (fs->local_exists && fs->server_exists)
		return RECONCILE_FOLDER_SYNC; /* F6 */
	if (fs->local_exists && !fs->synced_before)
		return RECONCILE_FOLDER_CREATE_SERVER; /* F1 */
	if (fs->local_exists)                          /* F2, F3 */
		return fs->unsynced == 0 ? RECONCILE_FOLDER_REMOVE_LOCAL
					 : RECONCILE_FOLDER_KEEP_REPORT;
	if (fs->server_exists) /* F4, F5: never delete a server folder */
		return RECONCILE_FOLDER_DOWNLOAD;
	return RECONCILE_FOLDER_FORGET;
}

/* ---- saves by a new name (R18) */

bool
reconcile_msgid_normalize(const char *in, char out[RECONCILE_MSGID_MAX + 1])
{
	size_t n = 0, at = RECONCILE_NONE, start = 0;

	out[0] = '\0';
	if (in == NULL)
		return false;
	for (const char *p = in; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			continue; /* CFWS and folding */
		if (ch < 0x21 || ch > 0x7e || n == RECONCILE_MSGID_MAX) {
			out[0] = '\0';
			return false;
		}
		out[n++] = (char)ch;
	}
	out[n] = '\0';
	if (n >= 2 && out[0] == '<' && out[n - 1] == '>') {
		start = 1;
		n--;
	}
	memmove(out, out + start, n - start);
	n -= start;
	out[n] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (out[i] == '<' || out[i] == '>') {
			out[0] = '\0';
			return false;
		}
		if (out[i] == '@')
			at = i;
	}
	/* id-left is case-sensitive, the domain (id-right) is not */
	for (size_t i = at == RECONCILE_NONE ? n : at + 1; i < n; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
	return n > 0;
}

struct save_key {
	char key[RECONCILE_MSGID_MAX + 1];
	size_t i;
};

static int
save_key_cmp(const void *a, const void *b)
{
	const struct save_key *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Normalised keys of v, sorted; entries with no usable id are left out. */
static struct save_key *
save_keys(const struct reconcile_save_side *v, size_t n, size_t *n_out)
{
	struct save_key *k = calloc(n == 0 ? 1 : n, sizeof(*k));
	size_t m = 0;

	if (k == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (!reconcile_msgid_normalize(v[i].message_id, k[m].key))
			continue;
		k[m++].i = i;
	}
	if (m > 1)
		qsort(k, m, sizeof(*k), save_key_cmp);
	*n_out = m;
	return k;
}

/* [*lo, *hi) of the entries of k whose key is key. */
static void
save_range(const struct save_key *k, size_t n, const char *key, size_t *lo,
	   size_t *hi)
{
	size_t a = 0, b = n;

	while (a < b) {
		size_t mid = a + (b - a) / 2;

		if (strcmp(k[mid].key, key) < 0)
			a = mid + 1;
		else
			b = mid;
	}
	*lo = a;
	while (a < n && strcmp(k[a].key, key) == 0)
		a++;
	*hi = a;
}

enum e2_status
reconcile_pair_saves(const struct reconcile_save_side *orphans, size_t norphans,
		     const struct reconcile_save_side *files, size_t nfiles,
		     size_t *pair_out, struct e2_err *err)
{
	struct save_key *ko = NULL, *kf = NULL;
	size_t no = 0, nf = 0;
	enum e2_status rc = E2_OK;

	for (size_t i = 0; i < norphans; i++)
		pair_out[i] = RECONCILE_NONE;
	ko = save_keys(orphans, norphans, &no);
	kf = save_keys(files, nfiles, &nf);
	if (ko == NULL || kf == NULL) {
		rc = e2_fail(err, E2_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t a = 0; a < no;) {
		size_t olo, ohi, flo, fhi;

		save_range(ko, no, ko[a].key, &olo, &ohi);
		a = ohi;
		if (ohi - olo != 1)
			continue; /* two orphans, one id: ambiguous */
		save_range(kf, nf, ko[olo].key, &flo, &fhi);
		if (fhi - flo != 1)
			continue; /* no file, or two: ambiguous */
		if (strcmp(orphans[ko[olo].i].folder_id,
			   files[kf[flo].i].folder_id) == 0)
			continue; /* rewritten in its own folder: not a move */
		pair_out[ko[olo].i] = kf[flo].i;
	}
out:
	free(ko);
	free(kf);
	return rc;
}
