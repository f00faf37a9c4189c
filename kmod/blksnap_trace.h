/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tracepoints of blksnap: events:blksnap/ in tracefs.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM blksnap

#if !defined(__BLKSNAP_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define __BLKSNAP_TRACE_H

#include <linux/tracepoint.h>
#include <uapi/linux/blksnap.h>
#include "snapshot.h"

/*
 * blksnap_take: a snapshot was taken; how long its phases lasted, in
 * nanoseconds (enum blksnap_take_phase).
 */
TRACE_EVENT(blksnap_take,
	    TP_PROTO(const struct snapshot *snap),
	    TP_ARGS(snap),
	    TP_STRUCT__entry(__array(u8, id, BLKSNAP_UUID_SIZE)
			     __field(unsigned int, nr_devs)
			     __array(u64, ns, BLKSNAP_TAKE_PHASES)),
	    TP_fast_assign(memcpy(__entry->id, &snap->id, BLKSNAP_UUID_SIZE);
			   __entry->nr_devs = snap->nr_devs;
			   memcpy(__entry->ns, snap->take_ns,
				  sizeof(__entry->ns));),
	    TP_printk("snapshot %pUb devices %u total %llu prepare %llu freeze %llu held %llu grace %llu drain %llu maps %llu thaw %llu images %llu",
		      __entry->id, __entry->nr_devs,
		      __entry->ns[BLKSNAP_TAKE_TOTAL],
		      __entry->ns[BLKSNAP_TAKE_PREPARE],
		      __entry->ns[BLKSNAP_TAKE_FREEZE],
		      __entry->ns[BLKSNAP_TAKE_HOLD],
		      __entry->ns[BLKSNAP_TAKE_GRACE],
		      __entry->ns[BLKSNAP_TAKE_DRAIN],
		      __entry->ns[BLKSNAP_TAKE_MAP],
		      __entry->ns[BLKSNAP_TAKE_THAW],
		      __entry->ns[BLKSNAP_TAKE_IMAGES])
);

#endif /* __BLKSNAP_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE blksnap_trace
#include <trace/define_trace.h>
