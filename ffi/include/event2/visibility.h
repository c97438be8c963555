/* eventop: libevent 2.1's core API. Symbol visibility for the declarations of these headers. */
#ifndef EVENT2_VISIBILITY_H_INCLUDED_
#define EVENT2_VISIBILITY_H_INCLUDED_

/* As libevent's configuration header does: the GNU extensions of the system headers included
 * after this one (EAI_ADDRFAMILY, EAI_NODATA, ...) are visible, so constants built on them have
 * the values a program built against libevent sees. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define EVENT2_EXPORT_SYMBOL __attribute__((visibility("default")))
#else
#define EVENT2_EXPORT_SYMBOL
#endif
#define EVENT2_CORE_EXPORT_SYMBOL EVENT2_EXPORT_SYMBOL

#endif
