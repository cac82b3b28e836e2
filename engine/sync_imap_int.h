/* SPDX-License-Identifier: MIT */
/* sync_imap_int.h -- what the IMAP sync's files share (not a public API) */
#ifndef E2_SYNC_IMAP_INT_H
#define E2_SYNC_IMAP_INT_H

/*
 * The IMAP sync is one driver split by concern: sync_imap.c (the rules in
 * its header comment, the account pass, the per-folder driver and the
 * plan), sync_imap_state.c (state rows and stamps), sync_imap_fetch.c
 * (UID SEARCH and downloads), sync_imap_upload.c (uploads, moves,
 * copies). Every function here borrows its arguments; errors are those
 * of the engine (enum e2_status) unless said.
 */

#include "sync.h"

#include <stdbool.h>
#include <stdint.h>

#include <libetpan/libetpan.h>

#include "maildir.h"
#include "reconcile.h"
#include "syncstate.h"

#define SYNC_IMAP_CHUNK 2000u
#define SYNC_TAG_MAX (RECONCILE_TAG_MAX + 2) /* "U=" and the value */
#define SYNC_MARKS_READ (256u * 1024) /* of an adopted file, for its marks */

struct imap_caps {
	bool condstore;
	bool uidplus;
	bool move;
	uint64_t appendlimit; /* APPENDLIMIT=n (RFC 7889), 0: none */
};

/*
 * One LISTed folder as the account pass saw it (imap_account_pass()),
 * before the per-folder loop: its directory, id and stored UIDVALIDITY,
 * and -- only when its stamp changed since the last run -- its files.
 */
struct acct_folder {
	char *name;
	char sep;
	char id[SYNCSTATE_FOLDER_ID_MAX + 1];
	char *path;              /* NULL: cannot be mapped (claim_err) */
	struct e2_err claim_err; /* reported by imap_folder() */
	bool moved;              /* maildir_folder_claim()'s *moved_out */
	bool known;              /* a state row that names this directory */
	uint32_t uidvalidity;    /* stored */
	bool listed;             /* snap taken: the folder changed */
	struct maildir_snapshot snap;
};

/* The account index and tag refs every folder's reconcile_folder() reads */
struct acct_index {
	struct acct_folder *fv;
	size_t nf;
	struct reconcile_index_entry *index;
	size_t nindex, capindex;
	struct reconcile_tagref *refs;
	size_t nrefs, caprefs;
};

struct imap_run {
	struct sync_ctx *c;
	struct chain_session *sess;
	mailimap *imap;
	struct imap_caps caps;
	char *trash; /* the Trash folder's name, NULL when none */
	struct acct_index ax;
};

/* What one FETCH response item carried. */
struct imap_msg {
	uint32_t uid;
	uint32_t size;
	bool has_flags;
	bool deleted;
	char flags[MAILDIR_FLAGS_MAX];
	int64_t internal_date; /* 0: not fetched */
	const struct mailimap_body *bodystructure;
	const char *body;
	size_t body_len;
};

struct uidv {
	uint32_t *v;
	size_t n, cap;
};

struct sync_folder_state {
	bool known;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t modseq;
	uint32_t nmsgs;
	char local_stamp[SYNCSTATE_STAMP_MAX];  /* see syncstate.h */
	char server_stamp[SYNCSTATE_STAMP_MAX]; /* the settings that choose */
};

struct sync_msg_row {
	uint32_t uid;
	char *uniq;
	char flags[MAILDIR_FLAGS_MAX]; /* standard letters as last synced */
	bool partial;
	bool omitted;
	int64_t internal_date;
};

struct folder_run {
	struct imap_run *r;
	const char *name;
	char id[SYNCSTATE_FOLDER_ID_MAX + 1]; /* syncstate_folder_id() */
	char *path;
	struct sync_folder_state fs;  /* stored */
	struct sync_folder_state cur; /* from SELECT */
	struct sync_msg_row *rows;
	size_t nrows;
	struct maildir_snapshot local; /* tag: "U" */
	struct uidv del;               /* UIDs deleted locally */
	struct uidv aged;              /* UIDs out of the DWNDAY window */
	size_t ndropped;               /* rows removed during this run */
	bool *gone;                    /* [local.n] removed as a copy */
	struct reconcile_server *srv;  /* the server listing, by uid */
	size_t nsrv, capsrv;
	struct uidv taken; /* UIDs of this run's uploads */
};

/* imap_search() dateop: also UNDELETED (added to 1, -1 or 0) */
#define SEARCH_UNDELETED 4

/* ---- sync_imap.c: errors, capabilities, flags, uid vectors, the per-folder
 * driver */
enum e2_status imap_fail(struct imap_run *r, int code, const char *what,
			 struct e2_err *err);
enum e2_status imap_oom(struct e2_err *err);
bool flag_has(const char *flags, char f);
void flags_synced(const char *flags, char out[MAILDIR_FLAGS_MAX]);
void imap_msg_parse(struct mailimap_msg_att *att, struct imap_msg *m);
struct mailimap_set *imap_set_of(const uint32_t *uids, size_t n);
enum e2_status imap_store_flag(struct imap_run *r, const uint32_t *uids,
			       size_t n, struct mailimap_flag *(*mk)(void),
			       bool add, struct e2_err *err);
enum e2_status uidv_add(struct uidv *u, uint32_t uid, struct e2_err *err);
int uid_cmp(const void *a, const void *b);
void uidv_sort_unique(struct uidv *u);
void uidv_free(struct uidv *u);
enum e2_status folder_tag(const struct folder_run *f, uint32_t uid,
			  char out[SYNC_TAG_MAX], struct e2_err *err);
enum e2_status folder_expunge(struct imap_run *r, struct mailimap_set *set,
			      struct e2_err *err);
unsigned flags_mask(const char *flags);
void mask_letters(unsigned mask, char out[MAILDIR_FLAGS_MAX]);
enum e2_status imap_open(struct imap_run *r, struct sync_ctx *c,
			 struct e2_err *err);

/* ---- sync_imap_state.c: state rows and stamps */
enum e2_status state_folder_get(struct sync_ctx *c, const char *folder,
				struct sync_folder_state *fs_out,
				struct e2_err *err);
enum e2_status state_folder_put(struct sync_ctx *c, const char *folder,
				const struct sync_folder_state *fs,
				struct e2_err *err);
void state_rows_free(struct sync_msg_row **rows, size_t n);
enum e2_status state_rows_load(struct sync_ctx *c, const char *folder,
			       struct sync_msg_row **rows_out, size_t *n_out,
			       struct e2_err *err);
enum e2_status state_row_put(struct sync_ctx *c, const char *folder,
			     const struct sync_msg_row *row,
			     struct e2_err *err);
enum e2_status folder_window_settled(struct folder_run *f, bool *settled_out,
				     struct e2_err *err);
bool folder_server_same(const struct folder_run *f);
enum e2_status folder_unchanged(struct folder_run *f, bool *same_out,
				struct e2_err *err);

/* ---- sync_imap_fetch.c: SEARCH and downloads */
enum e2_status imap_search(struct imap_run *r, uint32_t lo, uint32_t hi,
			   int dateop, struct uidv *out, struct e2_err *err);
enum e2_status folder_stream(struct folder_run *f, const struct uidv *todo,
			     struct e2_err *err);
bool row_has_uid(const struct folder_run *f, uint32_t uid);
bool folder_has_stale(const struct folder_run *f);
enum e2_status folder_new_uids(struct folder_run *f, size_t present,
			       struct uidv *uids, struct e2_err *err);
enum e2_status folder_download(struct folder_run *f, struct uidv *todo_in,
			       struct e2_err *err);

/* ---- sync_imap_upload.c: APPEND, UID COPY, UID MOVE */
enum e2_status folder_recover_uploads(struct folder_run *f, struct e2_err *err);
enum e2_status folder_upload(struct folder_run *f,
			     const struct maildir_file *lf, unsigned flags,
			     const struct sync_msg_row *drop_row,
			     struct e2_err *err);
/*
 * The SERVER_MOVE / SERVER_COPY actions (R7, R8) among ups[nups] (others
 * are skipped), the files being f->local.v[lmap[a->local]], in batches by
 * source folder (sync_imap_upload.c). Leaves another folder selected.
 * Errors: those of the server and the store (a bad file is reported).
 */
enum e2_status folder_transfers(struct folder_run *f,
				const struct reconcile_action *const *ups,
				size_t nups, const size_t *lmap,
				struct e2_err *err);

/* ---- sync_imap.c: the account pass */
enum e2_status acct_ref_add(struct acct_index *ax, const char *holder,
			    const struct reconcile_tag *t, struct e2_err *err);

/* ---- sync_imap_saves.c: saves by a new name are moves (R18). After every
 * folder's scan, before the index: renames each paired file to carry its
 * source row's tag and adds its ref. */
enum e2_status saves_pair(struct imap_run *r, struct e2_err *err);

#endif /* E2_SYNC_IMAP_INT_H */
