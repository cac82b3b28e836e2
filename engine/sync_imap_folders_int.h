/* SPDX-License-Identifier: MIT */
/* sync_imap_folders_int.h -- what sync_imap_folders.c and _sent.c share */
#ifndef E2_SYNC_IMAP_FOLDERS_INT_H
#define E2_SYNC_IMAP_FOLDERS_INT_H

#include "sync_imap_folders.h"

#include <stdbool.h>
#include <time.h>

/* A local folder directory found by the scan. */
struct folders_dir {
	char *dname; /* ".Work" */
	char *path;  /* <root>/.Work */
	char *owner; /* the server name in its owner file, or NULL */
	struct timespec owner_ctime; /* of the owner file: a copy's is newer */
};

/* One folder pass (sync_imap_folders()); everything borrowed but dirs,
 * seen and sent. */
struct folders_run {
	struct sync_ctx *c;
	mailimap *imap;
	struct chain_session *sess;
	clist *list; /* the current LIST result */
	char sep;    /* for names we create */
	bool utf8;   /* UTF8=ACCEPT enabled (never, see folders_read_caps) */
	bool create_special_use;
	bool created; /* a CREATE succeeded: LIST again */
	struct folders_dir *dirs;
	size_t ndirs;
	bool *seen; /* per LIST entry (in list order): a local folder has it */
	char *sent; /* the server's Sent folder, NULL when none */
	char sent_sep;
	bool has_namespace; /* NAMESPACE offered (RFC 2342) */
	char *prefix; /* personal namespace prefix ("INBOX."), NULL when "" */
};

/*
 * name under the personal namespace prefix (RFC 2342: a server such as
 * Courier takes new folders only below "INBOX."), unless it is there
 * already; into *out (caller frees). Errors: E2_ENOMEM.
 */
enum e2_status folders_prefixed(const struct folders_run *fr, const char *name,
				char **out, struct e2_err *err);

/* As imap_fail() in sync_imap.c: the error for a failed command. */
enum e2_status folders_fail(struct folders_run *fr, int code, const char *what,
			    struct e2_err *err);
/* The command failed because the connection did (stop the run), not NO. */
bool folders_conn_lost(struct folders_run *fr, int code);
/* mb has the LIST attribute ext ("Sent", "Noselect", ...). */
bool folders_list_flag(const struct mailimap_mailbox_list *mb, const char *ext);
/* mb can be SELECTed (neither \Noselect nor \NonExistent). */
bool folders_selectable(const struct mailimap_mailbox_list *mb);
/* The LIST entry named exactly name, or NULL; borrowed from list. */
struct mailimap_mailbox_list *folders_list_find(clist *list, const char *name);
/* SUBSCRIBE name after we created it; a NO is ignored. Errors: the
 * connection's. */
enum e2_status folders_subscribe(struct folders_run *fr, const char *name,
				 struct e2_err *err);
/* fsync() of a directory. Errors: E2_ESTORE. */
enum e2_status folders_fsync_dir(const char *path, struct e2_err *err);

/* sync_imap_sent.c: finds (or, with a copy waiting, creates) the server's
 * Sent folder into fr->sent. Errors: connection, E2_ENOMEM. */
enum e2_status sync_imap_sent(struct folders_run *fr, struct e2_err *err);
/* Moves (or, with sent-copy=server, drops) the staged sent copies. */
enum e2_status sync_imap_sent_drain(struct folders_run *fr, struct e2_err *err);

#endif /* E2_SYNC_IMAP_FOLDERS_INT_H */
