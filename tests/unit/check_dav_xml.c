/* SPDX-License-Identifier: MIT */
/* check_dav_xml.c -- WebDAV multistatus bodies as servers send them */
#include "config.h"

#include "transports/dav_xml.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "email2.h"

#define E2_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Each row is a body and what the parser must make of it: either the dump
 * below (one line per response and per propstat) or, when err is set,
 * E2_EPROTO with err inside the message.
 *   ms token=T trunc refused=N        (only what is set)
 *   R href=H norm=N st=S | R! reason
 *    P st etag=E weak ctag= tok= name= color= type= rt= rep= comp=
 *      principal= ab= cal= data=D      (only what is present; data with
 *                                       CR as \r and LF as \n)
 */
struct dav_row {
	const char *name;
	const char *body;
	const char *want; /* the dump */
	const char *err;  /* or a part of the error message */
};

#define NS_D "xmlns:d=\"DAV:\""
#define NS_ALL                                                                 \
	"xmlns:d=\"DAV:\" xmlns:card=\"urn:ietf:params:xml:ns:carddav\" "      \
	"xmlns:cal=\"urn:ietf:params:xml:ns:caldav\" "                         \
	"xmlns:cs=\"http://calendarserver.org/ns/\" "                          \
	"xmlns:ical=\"http://apple.com/ns/ical/\""
#define XMLDECL "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
#define OK200 "<d:status>HTTP/1.1 200 OK</d:status>"
#define NF404 "<d:status>HTTP/1.1 404 Not Found</d:status>"

/* clang-format off */
static const struct dav_row dav_rows[] = {
	/* RFC 6578 3.8: the initial sync-collection answer */
	{"rfc6578 initial sync", XMLDECL
	 "<D:multistatus xmlns:D=\"DAV:\">"
	 "<D:response><D:href>http://example.com/home/cyrusdaboo/collection/test.ics</D:href>"
	 "<D:propstat><D:prop><D:getetag>\"00001-abcd1\"</D:getetag></D:prop>"
	 "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
	 "<D:response><D:href>http://example.com/home/cyrusdaboo/collection/vcard.vcf</D:href>"
	 "<D:propstat><D:prop><D:getetag>\"00002-abcd1\"</D:getetag></D:prop>"
	 "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
	 "<D:sync-token>http://example.com/ns/sync/1234</D:sync-token>"
	 "</D:multistatus>",
	 "ms token=http://example.com/ns/sync/1234\n"
	 "R href=http://example.com/home/cyrusdaboo/collection/test.ics norm=/home/cyrusdaboo/collection/test.ics\n"
	 " P 200 etag=\"00001-abcd1\"\n"
	 "R href=http://example.com/home/cyrusdaboo/collection/vcard.vcf norm=/home/cyrusdaboo/collection/vcard.vcf\n"
	 " P 200 etag=\"00002-abcd1\"\n", NULL},
	/* RFC 6578 3.8: a deletion is a response status 404 */
	{"sync deletion 404", XMLDECL
	 "<d:multistatus " NS_D ">"
	 "<d:response><d:href>/cal/a.ics</d:href>" OK200 "</d:response>"
	 "<d:response><d:href>/cal/gone.ics</d:href>" NF404 "</d:response>"
	 "<d:sync-token>http://radicale.org/ns/sync/9d1c</d:sync-token></d:multistatus>",
	 "ms token=http://radicale.org/ns/sync/9d1c\n"
	 "R href=/cal/a.ics norm=/cal/a.ics st=200\n"
	 "R href=/cal/gone.ics norm=/cal/gone.ics st=404\n", NULL},
	/* RFC 6578 3.6: a truncated result carries 507 for the collection */
	{"sync 507 truncated", XMLDECL
	 "<d:multistatus " NS_D ">"
	 "<d:response><d:href>/cal/a.ics</d:href><d:propstat><d:prop><d:getetag>\"1\"</d:getetag></d:prop>" OK200 "</d:propstat></d:response>"
	 "<d:response><d:href>/cal/</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status>"
	 "<d:error><d:number-of-matches-within-limits/></d:error></d:response>"
	 "<d:sync-token>tok-2</d:sync-token></d:multistatus>",
	 "ms token=tok-2 trunc\n"
	 "R href=/cal/a.ics norm=/cal/a.ics\n"
	 " P 200 etag=\"1\"\n"
	 "R href=/cal/ norm=/cal/ st=507\n", NULL},
	/* Google, iCloud: hrefs and etags, but 404 for the data asked for */
	{"sync data 404", XMLDECL
	 "<multistatus xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">"
	 "<response><href>/caldav/v2/x%40gmail.com/events/e1.ics</href>"
	 "<propstat><status>HTTP/1.1 200 OK</status><prop><getetag>\"63859\"</getetag></prop></propstat>"
	 "<propstat><status>HTTP/1.1 404 Not Found</status><prop><C:calendar-data/></prop></propstat>"
	 "</response><sync-token>https://www.google.com/calendar/dav/sync/1</sync-token></multistatus>",
	 "ms token=https://www.google.com/calendar/dav/sync/1\n"
	 "R href=/caldav/v2/x%40gmail.com/events/e1.ics norm=/caldav/v2/x@gmail.com/events/e1.ics\n"
	 " P 200 etag=\"63859\"\n"
	 " P 404 [caldata]\n", NULL},
	/* RFC 6352 8.7 example: addressbook-multiget, one href unknown */
	{"carddav multiget", XMLDECL
	 "<D:multistatus xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:carddav\">"
	 "<D:response><D:href>/home/bernard/addressbook/vcf102.vcf</D:href>"
	 "<D:propstat><D:prop><D:getetag>\"23ba4d-ff11fb\"</D:getetag>"
	 "<C:address-data>BEGIN:VCARD\nVERSION:3.0\nNICKNAME:me\nUID:34222-232@example.com\n"
	 "FN:Cyrus Daboo\nEMAIL:daboo@example.com\nEND:VCARD\n</C:address-data></D:prop>"
	 "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
	 "<D:response><D:href>/home/bernard/addressbook/vcf104.vcf</D:href>"
	 "<D:status>HTTP/1.1 404 Resource not found</D:status></D:response></D:multistatus>",
	 "ms\n"
	 "R href=/home/bernard/addressbook/vcf102.vcf norm=/home/bernard/addressbook/vcf102.vcf\n"
	 " P 200 etag=\"23ba4d-ff11fb\" data=BEGIN:VCARD\\nVERSION:3.0\\nNICKNAME:me\\nUID:34222-232@example.com\\nFN:Cyrus Daboo\\nEMAIL:daboo@example.com\\nEND:VCARD\\n\n"
	 "R href=/home/bernard/addressbook/vcf104.vcf norm=/home/bernard/addressbook/vcf104.vcf st=404\n", NULL},
	/* CDATA, as Nextcloud/SabreDAV and iCloud sometimes send data */
	{"calendar data cdata", XMLDECL
	 "<d:multistatus " NS_ALL "><d:response><d:href>/remote.php/dav/calendars/u/p/e.ics</d:href>"
	 "<d:propstat><d:prop><d:getetag>&quot;5f3a&quot;</d:getetag>"
	 "<cal:calendar-data><![CDATA[BEGIN:VCALENDAR\nSUMMARY:a <b> & c\nEND:VCALENDAR\n]]></cal:calendar-data>"
	 "</d:prop>" OK200 "</d:propstat></d:response></d:multistatus>",
	 "ms\n"
	 "R href=/remote.php/dav/calendars/u/p/e.ics norm=/remote.php/dav/calendars/u/p/e.ics\n"
	 " P 200 etag=\"5f3a\" data=BEGIN:VCALENDAR\\nSUMMARY:a <b> & c\\nEND:VCALENDAR\\n\n", NULL},
	/* XML turns a raw CR LF into LF; &#13; keeps the CR */
	{"carriage returns kept", XMLDECL
	 "<d:multistatus " NS_ALL "><d:response><d:href>/c/a.vcf</d:href>"
	 "<d:propstat><d:prop><card:address-data>BEGIN:VCARD&#13;\nEND:VCARD\r\n</card:address-data>"
	 "</d:prop>" OK200 "</d:propstat></d:response></d:multistatus>",
	 "ms\n"
	 "R href=/c/a.vcf norm=/c/a.vcf\n"
	 " P 200 data=BEGIN:VCARD\\r\\nEND:VCARD\\n\n", NULL},
	/* weak etags (some proxies, Nextcloud behind a compressing server) */
	{"weak etag", XMLDECL
	 "<d:multistatus " NS_D "><d:response><d:href>/c/a.vcf</d:href>"
	 "<d:propstat><d:prop><d:getetag> W/\"xyz\" </d:getetag></d:prop>" OK200
	 "</d:propstat></d:response></d:multistatus>",
	 "ms\nR href=/c/a.vcf norm=/c/a.vcf\n P 200 etag=W/\"xyz\" weak\n", NULL},
	/* davmail/Exchange: unquoted etags, 404 propstat without prop
	 * (vdirsyncer#214) */
	{"unquoted etag, propstat 404 without prop", XMLDECL
	 "<D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>/users/x/calendar/a.EML</D:href>"
	 "<D:propstat><D:prop><D:getetag>2009-01-14T08:46:00Z</D:getetag></D:prop>"
	 "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
	 "<D:response><D:href>/users/x/calendar/b.EML</D:href>"
	 "<D:propstat><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat></D:response>"
	 "</D:multistatus>",
	 "ms\n"
	 "R href=/users/x/calendar/a.EML norm=/users/x/calendar/a.EML\n"
	 " P 200 etag=2009-01-14T08:46:00Z\n"
	 "R href=/users/x/calendar/b.EML norm=/users/x/calendar/b.EML\n"
	 " P 404\n", NULL},
	/* an empty propstat, no prop and no status, is skipped */
	{"empty propstat skipped", XMLDECL
	 "<d:multistatus " NS_D "><d:response><d:href>/c/a.vcf</d:href>"
	 "<d:propstat/><d:propstat><d:prop/></d:propstat>"
	 "<d:propstat><d:prop><d:getetag>\"1\"</d:getetag></d:prop>" OK200 "</d:propstat>"
	 "</d:response></d:multistatus>",
	 "ms\nR href=/c/a.vcf norm=/c/a.vcf\n P 200 etag=\"1\"\n", NULL},
	/* a default namespace and no prefix at all */
	{"default namespace", XMLDECL
	 "<multistatus xmlns=\"DAV:\"><response><href>/p/</href><propstat><prop>"
	 "<current-user-principal><href>/principals/users/alice/</href></current-user-principal>"
	 "</prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>",
	 "ms\nR href=/p/ norm=/p/\n P 200 principal=/principals/users/alice/\n", NULL},
	/* prefixes are not names: an unusual prefix, and d: bound elsewhere */
	{"odd prefixes", XMLDECL
	 "<x:multistatus xmlns:x=\"DAV:\" xmlns:d=\"urn:not-dav\"><x:response>"
	 "<x:href>/a.ics</x:href><d:href>/wrong.ics</d:href><x:propstat><x:prop>"
	 "<d:getetag>\"no\"</d:getetag><y:getetag xmlns:y=\"DAV:\">\"yes\"</y:getetag>"
	 "</x:prop><x:status>HTTP/1.1 200 OK</x:status></x:propstat></x:response></x:multistatus>",
	 "ms\nR href=/a.ics norm=/a.ics\n P 200 etag=\"yes\"\n", NULL},
	/* iCloud writes the upper-case D: and the Apple namespaces */
	{"icloud namespaces per element", XMLDECL
	 "<multistatus xmlns=\"DAV:\"><response><href>/1234/calendars/home/</href><propstat><prop>"
	 "<displayname xmlns=\"DAV:\">Home</displayname>"
	 "<calendar-color xmlns=\"http://apple.com/ns/ical/\" symbolic-color=\"red\">#FF2968FF</calendar-color>"
	 "<getctag xmlns=\"http://calendarserver.org/ns/\">FT=-@RU=a@S=1523</getctag>"
	 "<resourcetype xmlns=\"DAV:\"><collection/><calendar xmlns=\"urn:ietf:params:xml:ns:caldav\"/></resourcetype>"
	 "<supported-calendar-component-set xmlns=\"urn:ietf:params:xml:ns:caldav\"><comp name=\"VEVENT\"/></supported-calendar-component-set>"
	 "</prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>",
	 "ms\nR href=/1234/calendars/home/ norm=/1234/calendars/home/\n"
	 " P 200 ctag=FT=-@RU=a@S=1523 name=Home color=#FF2968FF rt=coll,cal comp=VEVENT\n", NULL},
	/* RFC 4791 / 6352 discovery: the home sets, two hrefs */
	{"home sets", XMLDECL
	 "<d:multistatus " NS_ALL "><d:response><d:href>/principals/alice/</d:href><d:propstat><d:prop>"
	 "<card:addressbook-home-set><d:href>/dav/addressbooks/alice/</d:href></card:addressbook-home-set>"
	 "<cal:calendar-home-set><d:href>https://p01-caldav.icloud.com/1234/calendars/</d:href>"
	 "<d:href>/dav/calendars/alice/</d:href></cal:calendar-home-set>"
	 "<d:resourcetype><d:principal/></d:resourcetype>"
	 "</d:prop>" OK200 "</d:propstat></d:response></d:multistatus>",
	 "ms\nR href=/principals/alice/ norm=/principals/alice/\n"
	 " P 200 rt=principal ab=/dav/addressbooks/alice/ cal=https://p01-caldav.icloud.com/1234/calendars/,/dav/calendars/alice/\n", NULL},
	/* RFC 3253 form of supported-report-set */
	{"report set with report wrapper", XMLDECL
	 "<d:multistatus " NS_ALL "><d:response><d:href>/ab/</d:href><d:propstat><d:prop>"
	 "<d:supported-report-set><d:supported-report><d:report><d:sync-collection/></d:report></d:supported-report>"
	 "<d:supported-report><d:report><card:addressbook-multiget/></d:report></d:supported-report>"
	 "<d:supported-report><d:report><d:expand-property/></d:report></d:supported-report>"
	 "</d:supported-report-set><d:sync-token>http://sabre.io/ns/sync/3</d:sync-token>"
	 "<d:resourcetype><d:collection/><card:addressbook/></d:resourcetype>"
	 "</d:prop>" OK200 "</d:propstat></d:response></d:multistatus>",
	 "ms\nR href=/ab/ norm=/ab/\n P 200 tok=http://sabre.io/ns/sync/3 rt=coll,ab rep=sync,abmg\n", NULL},
	/* some servers leave the report wrapper out (vdirsyncer, DAVx5) */
	{"report set without report wrapper", XMLDECL
	 "<d:multistatus " NS_ALL "><d:response><d:href>/cal/</d:href><d:propstat><d:prop>"
	 "<d:supported-report-set><d:supported-report><d:sync-collection/></d:supported-report>"
	 "<d:supported-report><cal:calendar-multiget/></d:supported-report></d:supported-report-set>"
	 "</d:prop>" OK200 "</d:propstat></d:response></d:multistatus>",
	 "ms\nR href=/cal/ norm=/cal/\n P 200 rep=sync,calmg\n", NULL},
	/* no sync-collection: the empty set is told from the absent one */
	{"report set empty", XMLDECL
	 "<d:multistatus " NS_ALL "><d:response><d:href>/cal/</d:href><d:propstat><d:prop>"
	 "<d:supported-report-set/><d:displayname/></d:prop>" OK200
	 "</d:propstat></d:response></d:multistatus>",
	 "ms\nR href=/cal/ norm=/cal/\n P 200 [name] [reports]\n", NULL},
	/* a task list: VTODO only, names in any case, unknown ones */
	{"task components", XMLDECL
	 "<d:multistatus " NS_ALL "><d:response><d:href>/tasks/</d:href><d:propstat><d:prop>"
	 "<cal:supported-calendar-component-set><cal:comp name=\"vtodo\"/><cal:comp name=\"VJOURNAL\"/>"
	 "<cal:comp name=\"VAVAILABILITY\"/><cal:comp/></cal:supported-calendar-component-set>"
	 "<d:getcontenttype>text/calendar; charset=utf-8</d:getcontenttype>"
	 "</d:prop>" OK200 "</d:propstat></d:response></d:multistatus>",
	 "ms\nR href=/tasks/ norm=/tasks/\n P 200 type=text/calendar; charset=utf-8 comp=VTODO,VJOURNAL,other\n", NULL},
	/* RFC 5397: unauthenticated has no href */
	{"principal unauthenticated", XMLDECL
	 "<d:multistatus " NS_D "><d:response><d:href>/</d:href><d:propstat><d:prop>"
	 "<d:current-user-principal><d:unauthenticated/></d:current-user-principal>"
	 "</d:prop>" OK200 "</d:propstat></d:response></d:multistatus>",
	 "ms\nR href=/ norm=/\n P 200 [principal]\n", NULL},
	/* encoded differently from the request: compare the normalised form */
	{"href %40 equals @", XMLDECL
	 "<d:multistatus " NS_D "><d:response><d:href>/dav/a%40b.com/%7euser/x%20y%2fz.vcf</d:href>"
	 OK200 "</d:response><d:response><d:href>/dav/a@b.com/~user/x y%2Fz.vcf</d:href>" OK200
	 "</d:response></d:multistatus>",
	 "ms\nR href=/dav/a%40b.com/%7euser/x%20y%2fz.vcf norm=/dav/a@b.com/~user/x%20y%2Fz.vcf st=200\n"
	 "R href=/dav/a@b.com/~user/x y%2Fz.vcf norm=/dav/a@b.com/~user/x%20y%2Fz.vcf st=200\n", NULL},
	/* DAVx5 #1098: absolute URLs, other hosts: the caller compares */
	{"absolute href", XMLDECL
	 "<d:multistatus " NS_D "><d:response><d:href>HTTPS://Other.example:8443</d:href>" OK200
	 "</d:response><d:response><d:href>//cdn.example/x/</d:href>" OK200
	 "</d:response><d:response><d:href>rel.ics</d:href>" OK200 "</d:response></d:multistatus>",
	 "ms\nR href=HTTPS://Other.example:8443 norm=/ st=200\n"
	 "R href=//cdn.example/x/ norm=/x/ st=200\n"
	 "R href=rel.ics norm=rel.ics st=200\n", NULL},
	/* SOGo and RFC 4918 14.24: one response, several hrefs, one status */
	{"multiget 404 for two hrefs", XMLDECL
	 "<d:multistatus " NS_D "><d:response><d:href>/c/1.ics</d:href><d:href>/c/2.ics</d:href>"
	 NF404 "</d:response></d:multistatus>",
	 "ms\nR href=/c/1.ics norm=/c/1.ics st=404\nR href=/c/2.ics norm=/c/2.ics st=404\n", NULL},
	/* per-response faults: the others stay */
	{"dotdot href refused, rest kept", XMLDECL
	 "<d:multistatus " NS_D "><d:response><d:href>/c/../../etc/passwd</d:href>" OK200
	 "</d:response><d:response><d:href>/c/%2E%2e/x</d:href>" OK200
	 "</d:response><d:response><d:href>/c/./x</d:href>" OK200
	 "</d:response><d:response><d:href>/c/ok..vcf</d:href>" OK200 "</d:response></d:multistatus>",
	 "ms refused=3\n"
	 "R! href \"/c/../../etc/passwd\": \".\" or \"..\" segment\n"
	 "R! href \"/c/%2E%2e/x\": \".\" or \"..\" segment\n"
	 "R! href \"/c/./x\": \".\" or \"..\" segment\n"
	 "R href=/c/ok..vcf norm=/c/ok..vcf st=200\n", NULL},
	{"control bytes in href refused", XMLDECL
	 "<d:multistatus " NS_D "><d:response><d:href>/c/a%00.vcf</d:href>" OK200
	 "</d:response><d:response><d:href>/c/a%0d%0aX-Injected: 1</d:href>" OK200
	 "</d:response><d:response><d:href>/c/a&#x85;b</d:href>" OK200
	 "</d:response><d:response><d:href>/c/bad%zz</d:href>" OK200
	 "</d:response><d:response><d:href> </d:href>" OK200
	 "</d:response></d:multistatus>",
	 "ms refused=5\n"
	 "R! href \"/c/a%00.vcf\": control character\n"
	 "R! href \"/c/a%0d%0aX-Injected: 1\": control character\n"
	 "R! <href> \"/c/a\\xc2\\x85b\" has a control character\n"
	 "R! href \"/c/bad%zz\": bad %-escape\n"
	 "R! empty href\n", NULL},
	{"etag with newline refused", XMLDECL
	 "<d:multistatus " NS_D "><d:response><d:href>/c/a.vcf</d:href><d:propstat><d:prop>"
	 "<d:getetag>\"a\nIf-Match: *\"</d:getetag></d:prop>" OK200 "</d:propstat></d:response>"
	 "<d:response><d:href>/c/b.vcf</d:href><d:propstat><d:prop><d:getetag>\"b\"</d:getetag>"
	 "<d:getetag>\"c\"</d:getetag></d:prop>" OK200 "</d:propstat></d:response>"
	 "<d:response><d:href>/c/c.vcf</d:href><d:propstat><d:prop><d:getetag>\"d\"</d:getetag></d:prop>"
	 "</d:propstat></d:response>"
	 "<d:response><d:href>/c/d.vcf</d:href><d:propstat><d:prop><d:getetag>\"e\"</d:getetag></d:prop>"
	 "<d:status>200 OK</d:status></d:propstat></d:response>"
	 "<d:response><d:href>/c/e.vcf</d:href><d:propstat><d:prop><d:displayname>a<d:b/></d:displayname></d:prop>"
	 OK200 "</d:propstat></d:response></d:multistatus>",
	 "ms refused=5\n"
	 "R! <getetag> \"\"a\\x0aIf-Match: *\"\" has a control character\n"
	 "R! second <getetag> in one propstat\n"
	 "R! propstat without status\n"
	 "R! status \"200 OK\" is no HTTP status line\n"
	 "R! <displayname> must hold text only\n", NULL},
	{"response without href", XMLDECL
	 "<d:multistatus " NS_D "><d:response>" OK200 "</d:response>"
	 "<d:response><d:href>/a</d:href><d:href>/b</d:href><d:propstat>" OK200 "</d:propstat></d:response>"
	 "<d:response><d:href>/c</d:href></d:response></d:multistatus>",
	 "ms refused=3\nR! response without href\nR! response with 2 hrefs and propstats\n"
	 "R! response without status or propstat\n", NULL},
	{"too many home hrefs", XMLDECL
	 "<d:multistatus " NS_ALL "><d:response><d:href>/p/</d:href><d:propstat><d:prop><cal:calendar-home-set>"
	 "<d:href>/1</d:href><d:href>/2</d:href><d:href>/3</d:href><d:href>/4</d:href>"
	 "<d:href>/5</d:href><d:href>/6</d:href><d:href>/7</d:href><d:href>/8</d:href>"
	 "<d:href>/9</d:href><d:href>/10</d:href><d:href>/11</d:href><d:href>/12</d:href>"
	 "<d:href>/13</d:href><d:href>/14</d:href><d:href>/15</d:href><d:href>/16</d:href>"
	 "<d:href>/17</d:href></cal:calendar-home-set></d:prop>" OK200 "</d:propstat></d:response>"
	 "<d:response><d:href>/q/</d:href><d:propstat><d:prop><d:current-user-principal>"
	 "<d:href>/a/../b</d:href></d:current-user-principal></d:prop>" OK200 "</d:propstat></d:response>"
	 "</d:multistatus>",
	 "ms refused=2\nR! <calendar-home-set> with more than 16 hrefs\n"
	 "R! href \"/a/../b\": \".\" or \"..\" segment\n", NULL},
	/* whole-body faults */
	{"not multistatus", XMLDECL "<d:error " NS_D "><d:valid-sync-token/></d:error>",
	 NULL, "root element \"error\" is not DAV:multistatus"},
	{"multistatus without namespace", "<multistatus><response/></multistatus>",
	 NULL, "is not DAV:multistatus"},
	{"html error page", "<html><body>502 Bad Gateway</body></html>",
	 NULL, "is not DAV:multistatus"},
	{"not xml", "HTTP/1.1 500 oops\r\n", NULL, "line 1, column 1: no XML element: empty or not XML"},
	{"truncated body", XMLDECL "<d:multistatus " NS_D "><d:response><d:href>/a",
	 NULL, "line 2, column 53: element not closed"},
	{"undeclared prefix", "<d:multistatus><d:response/></d:multistatus>",
	 NULL, "namespace prefix not declared"},
	{"billion laughs", "<?xml version=\"1.0\"?><!DOCTYPE m [<!ENTITY a \"aaaa\">"
	 "<!ENTITY b \"&a;&a;&a;&a;\">]><d:multistatus " NS_D ">&b;</d:multistatus>",
	 NULL, "DOCTYPE declares entity \"a\""},
	{"xxe", "<?xml version=\"1.0\"?><!DOCTYPE m [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
	 "<d:multistatus " NS_D "><d:sync-token>&x;</d:sync-token></d:multistatus>",
	 NULL, "entity declarations are refused"},
	{"external dtd not loaded", "<?xml version=\"1.0\"?><!DOCTYPE m SYSTEM \"http://evil.example/x.dtd\">"
	 "<d:multistatus " NS_D "><d:sync-token>&x;</d:sync-token></d:multistatus>",
	 NULL, "entity"},
	{"two multistatus sync-tokens", XMLDECL "<d:multistatus " NS_D "><d:sync-token>a</d:sync-token>"
	 "<d:sync-token>b</d:sync-token></d:multistatus>", NULL, "second multistatus <sync-token>"},
	{"sync-token with a control", XMLDECL "<d:multistatus " NS_D "><d:sync-token>a&#x9;b</d:sync-token>"
	 "</d:multistatus>", NULL, "<sync-token> \"a\\x09b\" has a control character"},
	{"empty multistatus", XMLDECL "<d:multistatus " NS_D "/>", "ms\n", NULL},
	{"bad utf-8", XMLDECL "<d:multistatus " NS_D "><d:sync-token>\xff\xfe</d:sync-token></d:multistatus>",
	 NULL, "not valid"},
};
/* clang-format on */

/* ---- the dump ------------------------------------------------------------ */

struct dump {
	char buf[8192];
	size_t len;
};

static void dump_put(struct dump *d, const char *fmt, ...) E2_PRINTF(2, 3);

static void
dump_put(struct dump *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(d->buf + d->len, sizeof(d->buf) - d->len, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	ck_assert_uint_lt(d->len + (size_t)n, sizeof(d->buf));
	d->len += (size_t)n;
}

static void
dump_bits(struct dump *d, const char *key, unsigned bits,
	  const char *const *names, size_t n)
{
	const char *sep = "";

	if (bits == 0)
		return;
	dump_put(d, " %s=", key);
	for (size_t i = 0; i < n; i++) {
		if ((bits & (1u << i)) != 0) {
			dump_put(d, "%s%s", sep, names[i]);
			sep = ",";
		}
	}
}

static void
dump_str(struct dump *d, const char *key, const char *v, unsigned have,
	 unsigned bit, const char *tag)
{
	if (v != NULL)
		dump_put(d, " %s=%s", key, v);
	else if ((have & bit) != 0)
		dump_put(d, " [%s]", tag);
}

static void
dump_propstat(struct dump *d, const struct dav_propstat *p)
{
	static const char *const rt[] = {"coll", "ab", "cal", "principal"};
	static const char *const rep[] = {"sync", "abmg", "calmg"};
	static const char *const comp[] = {"VEVENT", "VTODO", "VJOURNAL",
					   "VFREEBUSY", "other"};

	dump_put(d, " P %d", p->status);
	dump_str(d, "etag", p->etag, p->have, DAV_PROP_GETETAG, "etag");
	if (p->etag_weak)
		dump_put(d, " weak");
	dump_str(d, "ctag", p->ctag, p->have, DAV_PROP_GETCTAG, "ctag");
	dump_str(d, "tok", p->sync_token, p->have, DAV_PROP_SYNC_TOKEN, "tok");
	dump_str(d, "name", p->displayname, p->have, DAV_PROP_DISPLAYNAME,
		 "name");
	dump_str(d, "color", p->color, p->have, DAV_PROP_CALENDAR_COLOR,
		 "color");
	dump_str(d, "type", p->content_type, p->have, DAV_PROP_CONTENT_TYPE,
		 "type");
	dump_bits(d, "rt", p->resourcetype, rt, E2_ARRAY_LEN(rt));
	if (p->reports == 0 && (p->have & DAV_PROP_SUPPORTED_REPORTS) != 0)
		dump_put(d, " [reports]");
	dump_bits(d, "rep", p->reports, rep, E2_ARRAY_LEN(rep));
	dump_bits(d, "comp", p->components, comp, E2_ARRAY_LEN(comp));
	dump_str(d, "principal", p->principal, p->have, DAV_PROP_PRINCIPAL,
		 "principal");
	for (size_t i = 0; i < p->n_ab_homes; i++)
		dump_put(d, "%s%s", i == 0 ? " ab=" : ",", p->ab_homes[i]);
	for (size_t i = 0; i < p->n_cal_homes; i++)
		dump_put(d, "%s%s", i == 0 ? " cal=" : ",", p->cal_homes[i]);
	if (p->data != NULL) {
		ck_assert_uint_eq(strlen(p->data), p->data_len);
		dump_put(d, " data=");
		for (size_t i = 0; i < p->data_len; i++) {
			if (p->data[i] == '\n')
				dump_put(d, "\\n");
			else if (p->data[i] == '\r')
				dump_put(d, "\\r");
			else
				dump_put(d, "%c", p->data[i]);
		}
	} else if ((p->have & DAV_PROP_CALENDAR_DATA) != 0) {
		dump_put(d, " [caldata]");
	} else if ((p->have & DAV_PROP_ADDRESS_DATA) != 0) {
		dump_put(d, " [carddata]");
	}
	dump_put(d, "\n");
}

static void
dump_ms(struct dump *d, const struct dav_multistatus *ms)
{
	dump_put(d, "ms");
	if (ms->sync_token != NULL)
		dump_put(d, " token=%s", ms->sync_token);
	if (ms->truncated)
		dump_put(d, " trunc");
	if (ms->n_refused > 0)
		dump_put(d, " refused=%zu", ms->n_refused);
	dump_put(d, "\n");
	for (size_t i = 0; i < ms->n_responses; i++) {
		const struct dav_response *r = &ms->responses[i];

		if (r->refused) {
			ck_assert_uint_eq(r->n_propstats, 0);
			ck_assert_ptr_null(dav_response_found(r));
			dump_put(d, "R! %s\n", r->reason);
			continue;
		}
		dump_put(d, "R href=%s norm=%s", r->href, r->href_norm);
		if (r->status != 0)
			dump_put(d, " st=%d", r->status);
		dump_put(d, "\n");
		for (size_t j = 0; j < r->n_propstats; j++)
			dump_propstat(d, &r->propstats[j]);
	}
}

START_TEST(test_dav_table)
{
	const struct dav_row *row = &dav_rows[_i];
	struct dav_multistatus *ms = NULL;
	struct dump d = {.len = 0};
	struct e2_err err;
	enum e2_status rc;

	e2_err_clear(&err);
	rc = dav_xml_parse(row->body, strlen(row->body), &ms, &err);
	if (row->err != NULL) {
		ck_assert_msg(rc == E2_EPROTO, "%s: rc %d", row->name, (int)rc);
		ck_assert_ptr_null(ms);
		ck_assert_msg(strstr(err.msg, row->err) != NULL,
			      "%s: message \"%s\" lacks \"%s\"", row->name,
			      err.msg, row->err);
		return;
	}
	ck_assert_msg(rc == E2_OK, "%s: %s", row->name, err.msg);
	dump_ms(&d, ms);
	ck_assert_msg(strcmp(d.buf, row->want) == 0, "%s:\n got:\n%s want:\n%s",
		      row->name, d.buf, row->want);
	dav_xml_free(&ms);
	ck_assert_ptr_null(ms);
}
END_TEST

/* ---- caps ---------------------------------------------------------------- */

/* n copies of unit between head and tail. Caller frees. */
static char *
repeat(const char *head, const char *unit, size_t n, const char *tail,
       size_t *len_out)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * n + tl + 1);
	size_t o = 0;

	ck_assert_ptr_nonnull(s);
	memcpy(s, head, hl);
	o = hl;
	for (size_t i = 0; i < n; i++, o += ul)
		memcpy(s + o, unit, ul);
	memcpy(s + o, tail, tl);
	o += tl;
	s[o] = '\0';
	*len_out = o;
	return s;
}

START_TEST(test_dav_depth)
{
	struct dav_multistatus *ms = NULL;
	struct e2_err err;
	size_t len;
	char *ok, *deep;
	enum e2_status rc;

	/* multistatus + 31 nested elements is depth 32: fine */
	ok = repeat("<d:multistatus " NS_D ">", "<d:x>", 31, "", &len);
	free(ok);
	{
		char *a = repeat("", "<d:x>", 31, "", &len);
		char *b = repeat("", "</d:x>", 31, "", &len);
		size_t n = strlen(a) + strlen(b) + 200;

		ok = malloc(n);
		deep = malloc(n + 20);
		ck_assert_ptr_nonnull(ok);
		ck_assert_ptr_nonnull(deep);
		snprintf(ok, n, "<d:multistatus " NS_D ">%s%s</d:multistatus>",
			 a, b);
		snprintf(deep, n + 20,
			 "<d:multistatus " NS_D ">%s<d:y/>%s</d:multistatus>",
			 a, b);
		free(a);
		free(b);
	}
	e2_err_clear(&err);
	rc = dav_xml_parse(ok, strlen(ok), &ms, &err);
	ck_assert_msg(rc == E2_OK, "%s", err.msg);
	dav_xml_free(&ms);
	e2_err_clear(&err);
	rc = dav_xml_parse(deep, strlen(deep), &ms, &err);
	ck_assert_int_eq(rc, E2_EPROTO);
	ck_assert_ptr_null(ms);
	ck_assert_str_eq(err.msg, "line 1: elements nested deeper than 32");
	free(ok);
	free(deep);
}
END_TEST

START_TEST(test_dav_caps)
{
	struct dav_multistatus *ms = NULL;
	struct e2_err err;
	size_t len;
	char *body;
	enum e2_status rc;

	/* exactly the response cap: fine; one more: the whole body */
	body = repeat("<d:multistatus " NS_D ">",
		      "<d:response><d:href>/a</d:href>" NF404 "</d:response>",
		      DAV_XML_MAX_RESPONSES, "</d:multistatus>", &len);
	e2_err_clear(&err);
	rc = dav_xml_parse(body, len, &ms, &err);
	ck_assert_msg(rc == E2_OK, "%s", err.msg);
	ck_assert_uint_eq(ms->n_responses, DAV_XML_MAX_RESPONSES);
	dav_xml_free(&ms);
	free(body);
	body = repeat("<d:multistatus " NS_D ">",
		      "<d:response><d:href>/a</d:href>" NF404 "</d:response>",
		      DAV_XML_MAX_RESPONSES + 1, "</d:multistatus>", &len);
	e2_err_clear(&err);
	rc = dav_xml_parse(body, len, &ms, &err);
	ck_assert_int_eq(rc, E2_EPROTO);
	ck_assert_ptr_null(ms);
	ck_assert_ptr_nonnull(strstr(err.msg, "more than 50000 responses"));
	free(body);

	/* elements */
	body = repeat("<d:multistatus " NS_D ">", "<x/>", DAV_XML_MAX_ELEMENTS,
		      "</d:multistatus>", &len);
	e2_err_clear(&err);
	rc = dav_xml_parse(body, len, &ms, &err);
	ck_assert_int_eq(rc, E2_EPROTO);
	ck_assert_str_eq(err.msg, "line 1: more than 500000 elements");
	free(body);

	/* item data in all: 3 items of 9 MB */
	body = repeat("<d:multistatus " NS_ALL ">", "", 0, "", &len);
	free(body);
	{
		size_t item = 9u * 1024 * 1024;
		const char *head = "<d:multistatus " NS_ALL ">";
		const char *open = "<d:response><d:href>/a</d:href><d:propstat>"
				   "<d:prop><cal:calendar-data>";
		const char *close = "</cal:calendar-data></d:prop>" OK200
				    "</d:propstat></d:response>";
		size_t cap = strlen(head) +
			     3 * (strlen(open) + item + strlen(close)) + 32;
		size_t o;

		body = malloc(cap);
		ck_assert_ptr_nonnull(body);
		o = (size_t)snprintf(body, cap, "%s", head);
		for (int k = 0; k < 3; k++) {
			o += (size_t)snprintf(body + o, cap - o, "%s", open);
			memset(body + o, 'x', item);
			o += item;
			o += (size_t)snprintf(body + o, cap - o, "%s", close);
		}
		o += (size_t)snprintf(body + o, cap - o, "</d:multistatus>");
		e2_err_clear(&err);
		rc = dav_xml_parse(body, o, &ms, &err);
		ck_assert_int_eq(rc, E2_EPROTO);
		ck_assert_ptr_nonnull(strstr(
			err.msg, "item data larger than 25165824 bytes"));
		free(body);
	}

	/* body size and emptiness, before libxml2 */
	e2_err_clear(&err);
	rc = dav_xml_parse("x", DAV_XML_MAX_BODY + 1u, &ms, &err);
	ck_assert_int_eq(rc, E2_EPROTO);
	ck_assert_str_eq(err.msg,
			 "webdav response body larger than 33554432 bytes");
	e2_err_clear(&err);
	rc = dav_xml_parse("", 0, &ms, &err);
	ck_assert_int_eq(rc, E2_EPROTO);
	ck_assert_str_eq(err.msg, "empty webdav response body");
}
END_TEST

/* Each short property is bounded; the response goes, the body stays. */
START_TEST(test_dav_text_cap)
{
	static const char *const head =
		"<d:multistatus " NS_D "><d:response><d:href>/a</d:href>"
		"<d:propstat><d:prop><d:displayname>";
	static const char *const tail =
		"</d:displayname></d:prop>" OK200 "</d:propstat></d:response>"
		"<d:response><d:href>/b</d:href>" OK200 "</d:response>"
		"</d:multistatus>";
	struct dav_multistatus *ms = NULL;
	struct e2_err err;
	size_t len;
	char *body;

	for (size_t n = DAV_XML_MAX_TEXT; n <= DAV_XML_MAX_TEXT + 1; n++) {
		body = repeat(head, "n", n, tail, &len);
		e2_err_clear(&err);
		ck_assert_int_eq(dav_xml_parse(body, len, &ms, &err), E2_OK);
		ck_assert_uint_eq(ms->n_responses, 2);
		ck_assert(!ms->responses[1].refused);
		if (n == DAV_XML_MAX_TEXT) {
			ck_assert(!ms->responses[0].refused);
			ck_assert_uint_eq(strlen(ms->responses[0]
							 .propstats[0]
							 .displayname),
					  n);
		} else {
			ck_assert(ms->responses[0].refused);
			ck_assert_str_eq(
				ms->responses[0].reason,
				"<displayname> longer than 2048 bytes");
			ck_assert_str_eq(ms->responses[0].href, "/a");
		}
		dav_xml_free(&ms);
		free(body);
	}
}
END_TEST

/* dav_response_found(): the first 2xx propstat, never a 404 one. */
START_TEST(test_dav_found)
{
	static const char body[] =
		"<d:multistatus " NS_ALL "><d:response><d:href>/a</d:href>"
		"<d:propstat><d:prop><cal:calendar-data/></d:prop>" NF404
		"</d:propstat><d:propstat><d:prop><d:getetag>\"e\"</d:getetag>"
		"</d:prop><d:status>HTTP/1.1 207 Multi</d:status></d:propstat>"
		"</d:response><d:response><d:href>/b</d:href>" NF404
		"</d:response></d:multistatus>";
	struct dav_multistatus *ms = NULL;
	const struct dav_propstat *p;
	struct e2_err err;

	e2_err_clear(&err);
	ck_assert_int_eq(dav_xml_parse(body, sizeof(body) - 1, &ms, &err),
			 E2_OK);
	p = dav_response_found(&ms->responses[0]);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->status, 207);
	ck_assert_str_eq(p->etag, "\"e\"");
	ck_assert_ptr_null(dav_response_found(&ms->responses[1]));
	ck_assert_ptr_null(dav_response_found(NULL));
	dav_xml_free(&ms);
}
END_TEST

/* Not NUL-terminated: a body cut out of a larger buffer. */
START_TEST(test_dav_not_terminated)
{
	static const char buf[] = "<d:multistatus " NS_D "><d:sync-token>t"
				  "</d:sync-token></d:multistatus>GARBAGE";
	struct dav_multistatus *ms = NULL;
	struct e2_err err;
	enum e2_status rc;

	e2_err_clear(&err);
	rc = dav_xml_parse(buf, sizeof(buf) - 1 - strlen("GARBAGE"), &ms, &err);
	ck_assert_msg(rc == E2_OK, "%s", err.msg);
	ck_assert_str_eq(ms->sync_token, "t");
	dav_xml_free(&ms);
	dav_xml_free(&ms);
	dav_xml_free(NULL);
}
END_TEST

/* ---- dav_href_normalise() ------------------------------------------------ */

static const struct {
	const char *href;
	const char *norm; /* NULL: refused */
} href_rows[] = {
	{"/a/b.vcf", "/a/b.vcf"},
	{"/a%2db/%41", "/a-b/A"},
	{"/%e2%82%ac/\xe2\x82\xac", "/%E2%82%AC/%E2%82%AC"},
	{"https://h.example/x?y=1#f", "/x?y=1#f"},
	{"https://h.example", "/"},
	{"/a/.b/..c/...", "/a/.b/..c/..."},
	{"/a/..", NULL},
	{"..", NULL},
	{"./x", NULL},
	{"/a/%2e/b", NULL},
	{"/a%", NULL},
	{"/a%4", NULL},
	{"/a%7f", NULL},
	{"/a\tb", NULL},
	{"", NULL},
	{"/x?a/../b", NULL},
	{"/x?a=..&b=.", "/x?a=..&b=."},
	{"/dav?/../b", NULL},
	{"/x#..", NULL},
};

START_TEST(test_href_normalise)
{
	struct e2_err err;
	char *norm = NULL;
	enum e2_status rc;

	e2_err_clear(&err);
	rc = dav_href_normalise(href_rows[_i].href, &norm, &err);
	if (href_rows[_i].norm == NULL) {
		ck_assert_msg(rc == E2_EPROTO, "%s", href_rows[_i].href);
		ck_assert_ptr_null(norm);
		ck_assert_str_ne(err.msg, "");
		return;
	}
	ck_assert_msg(rc == E2_OK, "%s: %s", href_rows[_i].href, err.msg);
	ck_assert_str_eq(norm, href_rows[_i].norm);
	free(norm);
}
END_TEST

START_TEST(test_href_too_long)
{
	struct e2_err err;
	char *norm = NULL;
	size_t len;
	char *h = repeat("/", "a", DAV_XML_MAX_HREF, "", &len);

	e2_err_clear(&err);
	ck_assert_int_eq(dav_href_normalise(h, &norm, &err), E2_EPROTO);
	ck_assert_str_eq(err.msg, "href longer than 4096 bytes");
	h[DAV_XML_MAX_HREF] = '\0';
	ck_assert_int_eq(dav_href_normalise(h, &norm, &err), E2_OK);
	ck_assert_uint_eq(strlen(norm), DAV_XML_MAX_HREF);
	free(norm);
	free(h);
}
END_TEST

static Suite *
dav_suite(void)
{
	Suite *s = suite_create("dav_xml");
	TCase *tc = tcase_create("bodies");

	tcase_add_loop_test(tc, test_dav_table, 0, (int)E2_ARRAY_LEN(dav_rows));
	tcase_add_test(tc, test_dav_not_terminated);
	tcase_add_test(tc, test_dav_text_cap);
	tcase_add_test(tc, test_dav_found);
	suite_add_tcase(s, tc);
	tc = tcase_create("caps");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_dav_depth);
	tcase_add_test(tc, test_dav_caps);
	suite_add_tcase(s, tc);
	tc = tcase_create("href");
	tcase_add_loop_test(tc, test_href_normalise, 0,
			    (int)E2_ARRAY_LEN(href_rows));
	tcase_add_test(tc, test_href_too_long);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dav_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
