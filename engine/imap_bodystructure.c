/* SPDX-License-Identifier: MIT */
/* imap_bodystructure.c -- IMAP BODYSTRUCTURE (libetpan's tree) to MIME parts */
#include "config.h"

#include "imap_bodystructure.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * RFC 3501 7.4.2 BODYSTRUCTURE, as libetpan 1.9.4 parsed it, becomes the
 * tree of struct mime_part that mime.c plans KEEPMAX with and assembles
 * from: section numbers as IMAP counts them ("" the root, "1", "2.1"),
 * types, subtypes, dispositions and encodings lower-cased, the boundary of
 * a multipart, a file name from the disposition's filename else the
 * Content-Type name, the encoded size. A tree deeper than
 * IMAP_BODYSTRUCTURE_DEPTH, an empty multipart or a part of no known kind
 * is E2_EPROTO: the message is not planned from it.
 */

static enum e2_status
imap_bodystructure_oom(struct e2_err *err)
{
	return e2_fail(err, E2_ENOMEM, "out of memory");
}

static char *
imap_bodystructure_lower_dup(const char *s)
{
	char *d = strdup(s != NULL ? s : "");

	for (char *p = d; p != NULL && *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

/* The value of parameter name in a BODYSTRUCTURE parameter list, or NULL. */
static const char *
imap_bodystructure_param(const struct mailimap_body_fld_param *pl,
			 const char *name)
{
	if (pl == NULL || pl->pa_list == NULL)
		return NULL;
	for (clistiter *it = clist_begin(pl->pa_list); it != NULL;
	     it = clist_next(it)) {
		struct mailimap_single_body_fld_param *p = clist_content(it);

		if (p->pa_name != NULL && strcasecmp(p->pa_name, name) == 0)
			return p->pa_value;
	}
	return NULL;
}

static const char *
imap_bodystructure_encoding(const struct mailimap_body_fld_enc *e)
{
	static const char *const names[] = {
		[MAILIMAP_BODY_FLD_ENC_7BIT] = "7bit",
		[MAILIMAP_BODY_FLD_ENC_8BIT] = "8bit",
		[MAILIMAP_BODY_FLD_ENC_BINARY] = "binary",
		[MAILIMAP_BODY_FLD_ENC_BASE64] = "base64",
		[MAILIMAP_BODY_FLD_ENC_QUOTED_PRINTABLE] = "quoted-printable",
	};

	if (e == NULL)
		return NULL;
	if (e->enc_type >= 0 &&
	    e->enc_type < (int)(sizeof(names) / sizeof(*names)) &&
	    names[e->enc_type] != NULL)
		return names[e->enc_type];
	return e->enc_value;
}

static const char *
imap_bodystructure_media_type(const struct mailimap_media_basic *m)
{
	switch (m->med_type) {
	case MAILIMAP_MEDIA_BASIC_APPLICATION:
		return "application";
	case MAILIMAP_MEDIA_BASIC_AUDIO:
		return "audio";
	case MAILIMAP_MEDIA_BASIC_IMAGE:
		return "image";
	case MAILIMAP_MEDIA_BASIC_MESSAGE:
		return "message";
	case MAILIMAP_MEDIA_BASIC_VIDEO:
		return "video";
	default:
		return m->med_basic_type != NULL ? m->med_basic_type
						 : "application";
	}
}

/* Fills p (zeroed by the caller) from b; number is its IMAP section. */
static enum e2_status
imap_bodystructure_part(const struct mailimap_body *b, const char *number,
			unsigned depth, struct mime_part *p, struct e2_err *err)
{
	const struct mailimap_body_fields *fl = NULL;
	const struct mailimap_body_fld_dsp *dsp = NULL;
	const char *type = NULL, *sub = NULL, *fname = NULL;

	if (depth > IMAP_BODYSTRUCTURE_DEPTH)
		return e2_fail(err, E2_EPROTO,
			       "imap BODYSTRUCTURE nested deeper than %d",
			       IMAP_BODYSTRUCTURE_DEPTH);
	p->number = strdup(number);
	if (p->number == NULL)
		return imap_bodystructure_oom(err);
	if (b->bd_type == MAILIMAP_BODY_MPART) {
		const struct mailimap_body_type_mpart *mp =
			b->bd_data.bd_body_mpart;
		size_t n = 0;

		if (mp == NULL || mp->bd_list == NULL)
			return e2_fail(err, E2_EPROTO,
				       "imap BODYSTRUCTURE: empty multipart");
		p->type = strdup("multipart");
		p->subtype = imap_bodystructure_lower_dup(mp->bd_media_subtype);
		if (p->type == NULL || p->subtype == NULL)
			return imap_bodystructure_oom(err);
		if (mp->bd_ext_mpart != NULL) {
			const char *bnd = imap_bodystructure_param(
				mp->bd_ext_mpart->bd_parameter, "boundary");

			if (bnd != NULL && (p->boundary = strdup(bnd)) == NULL)
				return imap_bodystructure_oom(err);
		}
		p->children = calloc((size_t)clist_count(mp->bd_list) + 1,
				     sizeof(*p->children));
		if (p->children == NULL)
			return imap_bodystructure_oom(err);
		for (clistiter *it = clist_begin(mp->bd_list); it != NULL;
		     it = clist_next(it)) {
			char num[128];
			int len;

			if (number[0] == '\0')
				len = snprintf(num, sizeof(num), "%zu", n + 1);
			else
				len = snprintf(num, sizeof(num), "%s.%zu",
					       number, n + 1);
			if (len < 0 || (size_t)len >= sizeof(num))
				return e2_fail(err, E2_EPROTO,
					       "imap BODYSTRUCTURE: section "
					       "number too long");
			p->n_children = ++n;
			enum e2_status rc = imap_bodystructure_part(
				clist_content(it), num, depth + 1,
				&p->children[n - 1], err);
			if (rc != E2_OK)
				return rc;
		}
		return E2_OK;
	}
	if (b->bd_data.bd_body_1part == NULL)
		return e2_fail(err, E2_EPROTO,
			       "imap BODYSTRUCTURE: empty part");
	{
		const struct mailimap_body_type_1part *op =
			b->bd_data.bd_body_1part;

		switch (op->bd_type) {
		case MAILIMAP_BODY_TYPE_1PART_BASIC:
			if (op->bd_data.bd_type_basic == NULL)
				break;
			fl = op->bd_data.bd_type_basic->bd_fields;
			type = imap_bodystructure_media_type(
				op->bd_data.bd_type_basic->bd_media_basic);
			sub = op->bd_data.bd_type_basic->bd_media_basic
				      ->med_subtype;
			break;
		case MAILIMAP_BODY_TYPE_1PART_MSG:
			if (op->bd_data.bd_type_msg == NULL)
				break;
			fl = op->bd_data.bd_type_msg->bd_fields;
			type = "message";
			sub = "rfc822";
			break;
		case MAILIMAP_BODY_TYPE_1PART_TEXT:
			if (op->bd_data.bd_type_text == NULL)
				break;
			fl = op->bd_data.bd_type_text->bd_fields;
			type = "text";
			sub = op->bd_data.bd_type_text->bd_media_text;
			break;
		default:
			break;
		}
		if (op->bd_ext_1part != NULL)
			dsp = op->bd_ext_1part->bd_disposition;
	}
	if (fl == NULL || type == NULL)
		return e2_fail(err, E2_EPROTO,
			       "imap BODYSTRUCTURE: unknown part type");
	p->type = imap_bodystructure_lower_dup(type);
	p->subtype = imap_bodystructure_lower_dup(sub);
	if (p->type == NULL || p->subtype == NULL)
		return imap_bodystructure_oom(err);
	if (dsp != NULL && dsp->dsp_type != NULL) {
		p->disposition = imap_bodystructure_lower_dup(dsp->dsp_type);
		if (p->disposition == NULL)
			return imap_bodystructure_oom(err);
		fname = imap_bodystructure_param(dsp->dsp_attributes,
						 "filename");
	}
	if (fname == NULL)
		fname = imap_bodystructure_param(fl->bd_parameter, "name");
	if (fname != NULL && (p->filename = strdup(fname)) == NULL)
		return imap_bodystructure_oom(err);
	if (imap_bodystructure_encoding(fl->bd_encoding) != NULL &&
	    (p->encoding = imap_bodystructure_lower_dup(
		     imap_bodystructure_encoding(fl->bd_encoding))) == NULL)
		return imap_bodystructure_oom(err);
	p->size = fl->bd_size;
	return E2_OK;
}

enum e2_status
imap_bodystructure_parts(const struct mailimap_body *b,
			 struct mime_part **root_out, struct e2_err *err)
{
	struct mime_part *root;
	enum e2_status rc;

	root = calloc(1, sizeof(*root));
	if (root == NULL)
		return imap_bodystructure_oom(err);
	rc = imap_bodystructure_part(b, "", 0, root, err);
	if (rc != E2_OK) {
		mime_part_free(&root);
		return rc;
	}
	*root_out = root;
	return E2_OK;
}

enum e2_status
imap_bodystructure_keepmax_plan(const struct mailimap_body *b,
				unsigned long long keepmax_bytes,
				struct mime_part **plan_out, struct e2_err *err)
{
	struct mime_part *root = NULL;
	enum e2_status rc;

	*plan_out = NULL;
	rc = imap_bodystructure_parts(b, &root, err);
	if (rc == E2_OK && mime_plan_keepmax(root, keepmax_bytes) > 0) {
		*plan_out = root;
		root = NULL;
	}
	mime_part_free(&root);
	return rc;
}
