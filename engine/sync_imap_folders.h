/* SPDX-License-Identifier: MIT */
/* sync_imap_folders.h -- IMAP folders both ways, and the Sent folder */
#ifndef E2_SYNC_IMAP_FOLDERS_H
#define E2_SYNC_IMAP_FOLDERS_H

#include "sync.h"

#include <libetpan/libetpan.h>

#include "transports/chain.h"

/*
 * The folder level of an IMAP run (reconcile.h F1-F5), and the Sent
 * folder, carried out once per run after LIST and before the per-folder
 * loop of sync_imap.c. Folders are matched by the server name written in
 * each local directory's owner file (maildir.h, MAILDIR_OWNER_FILE).
 *
 * F1 A local Maildir++ folder (a "." directory of the root with cur/ new/
 *    tmp/, not a symlink) with no owner file and no server folder of its
 *    name, e.g. made by "mkdir -p .Work/{cur,new,tmp}" or neomutt, is
 *    created on the server: the name from imap_names_from_dir() (server
 *    separator, modified UTF-7), below the personal namespace prefix when
 *    the server has one (RFC 2342; Courier's "INBOX.": .Work is
 *    INBOX.Work), and SUBSCRIBEd (as Thunderbird does, so
 *    webmail shows it); then the directory gets the name as its
 *    owner (maildir_folder_alias()) and the run LISTs again, so the loop
 *    syncs it now and its files are uploaded (R11). A name the server
 *    refuses (CREATE NO) or that cannot be spelt on it is reported
 *    (sync_skip()) and the folder stays as it is locally. A folder with an
 *    owner file and no sync state (its server folder went before it was
 *    ever synced) is created again under its owner's name.
 *    Order: sync state of the name dropped, CREATE, SUBSCRIBE, owner
 *    written (a kill before SUBSCRIBE leaves it unsubscribed). A kill
 *    after CREATE leaves a directory with no owner whose name LIST now
 *    shows: it is adopted (F6), never created twice.
 * F2 A folder whose server folder is gone (not in LIST, a sync state row
 *    exists) is removed locally only when every file in it carries the
 *    tag of a state row of that folder (same UIDVALIDITY, uid, unique
 *    name) with the synced flags S F R unchanged, and tmp/ is empty.
 *    Order: the message files, then cur/ new/ tmp/ (rmdir: a file that
 *    arrived meanwhile stops it), the state, the owner file and the
 *    directory. A kill at any point leaves either a folder checked the
 *    same way again, or a directory that is no folder any more.
 * F3 Otherwise it is kept with its files and state, and reported on every
 *    run with the number of files that never reached the server. To keep
 *    them, move them into another folder: they are uploaded there.
 * F4 A folder the user removed (rm -r .Work) never deletes the server
 *    folder nor anything in it: its sync state is dropped, so the loop
 *    makes it again and downloads it whole, as mbsync does without
 *    "Remove". To be rid of a folder, delete it on the server (any IMAP
 *    client); the next sync then removes it locally (F2).
 * F5 A server folder with no local folder and no state is downloaded by
 *    the loop as before.
 * A directory whose owner file names a server folder that another
 *    directory holds (a "cp -r" of a folder) is reported, not synced.
 * An unowned ".Sent" (where older versions kept sent mail, local only)
 *    is not created on a server whose Sent folder has another name ("Sent
 *    Items"): a second Sent folder would split the user's sent mail. It is
 *    reported on every run, telling where to move its messages.
 *
 * The Sent folder. The server's Sent is the LISTed folder with the
 * SPECIAL-USE attribute \Sent (RFC 6154; Dovecot, Cyrus, Gmail and
 * Exchange return it in a plain LIST), else the first of "Sent", "Sent
 * Items", "Sent Messages", "INBOX<sep>Sent" (case-insensitive, in this
 * order) that LIST shows. When a sent copy waits and there is none,
 * "Sent" is created, with USE (\Sent) when the server offers
 * CREATE-SPECIAL-USE (RFC 6154 3); with nothing to file, no folder is
 * created (a receive-only account keeps the server as it is).
 * The send path stages each sent message in the queue's subfolder
 * <store>/outbox/{GUID}/.Sent/ (new/ or cur/). Each staged file (a
 * regular file, not a symlink, at most SYNC_SENT_MAX_BYTES; others are
 * reported and left) is moved (renameat2 RENAME_NOREPLACE: never over
 * another file) into cur/ of the local folder that mirrors the server's
 * Sent, as "<uniq>:2,S" -- its own unique name when that is safe (no
 * field but a true ",S=<size>") and free, else a fresh one -- and the
 * directories are fsynced, target first. The loop then uploads it
 * untagged with \Seen (R11). A kill before the rename leaves it staged,
 * after it in place: it is in exactly one of the two, never lost, never
 * twice. With the account option sent-copy=server (store.h) the staged
 * copies are deleted instead and the server's own copy is downloaded.
 * POP3 accounts have no server folders: their staged copies stay.
 *
 * *list is the LIST result (borrowed); after a CREATE it is replaced by a
 * fresh LIST (the old one freed). Errors: E2_EIO, E2_EPROTO, E2_ETIMEOUT
 * (the connection failed: the run stops), E2_ESTORE, E2_ENOMEM. A folder
 * that cannot be handled is reported with sync_skip() and the run goes
 * on.
 */
#define SYNC_SENT_MAX_BYTES (50u * 1024 * 1024) /* as the send path's cap */

enum e2_status sync_imap_folders(struct sync_ctx *c, mailimap *imap,
				 struct chain_session *sess, clist **list,
				 struct e2_err *err);

#endif /* E2_SYNC_IMAP_FOLDERS_H */
