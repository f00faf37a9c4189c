// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bio interception: an ftrace hook on submit_bio_noacct(). Its callback
 * sees every bio; it marks the change maps for a write to a tracked device
 * and, when the device is in a snapshot, redirects the call to
 * blksnap_submit_bio_noacct(), the way live patching redirects a
 * function. The redirected function may hold the bio for copy-on-write,
 * else calls the original submit_bio_noacct(); that nested call comes from
 * inside this module, so the hook lets it through unchanged.
 *
 * Every bio is seen when it enters submit_bio_noacct(), including those a
 * stacking driver (device-mapper, md) submits while current->bio_list is
 * set: they are queued there but already marked, so both a dm device and
 * the disks below it can be tracked.
 *
 * Bios the module issues itself bypass the filter: their end_io is
 * blksnap_io_endio() (blksnap_io_is_own()).
 *
 * Cost: reads and writes to untracked devices pay the trampoline and one
 * hash probe (tracker_mark_bio()); writes to a tracked device the map
 * update as well. Only writes to a device in a snapshot pay the
 * redirection, the SRCU read section and the second pass through the
 * trampoline of the nested call.
 *
 * What the redirection's SRCU read section does not cover: a write the
 * callback let through runs on in submit_bio_noacct() unseen. A wait for
 * such writes follows every change of what the callback decides: a new
 * tracker (hook_synchronize_attach()), a device joining a snapshot
 * (hook_synchronize_join()).
 */
#include "blksnap.h"
#include <linux/blkdev.h>
#include <linux/bio.h>
#include <linux/ftrace.h>
#include <linux/module.h>
#include <linux/srcu.h>
#include "compat.h"
#include "tracker.h"
#include "hook.h"

/* Counts threads inside blksnap_submit_bio_noacct(), for unloading. */
DEFINE_STATIC_SRCU(hook_srcu);

/*
 * The replacement of submit_bio_noacct(). It must not be inlined into a
 * caller and must not reach submit_bio_noacct() through a tail call: the
 * hook recognises the nested call by its return address inside this
 * module. srcu_read_unlock() after the call keeps it a real call, and the
 * empty asm keeps the compiler from moving or merging it.
 */
static noinline void blksnap_submit_bio_noacct(struct bio *bio)
{
	int idx = srcu_read_lock(&hook_srcu);

	/* A held bio is submitted later by the copy-on-write worker. */
	if (!tracker_hold_bio(bio, NULL))
		submit_bio_noacct(bio);
	asm volatile("" ::: "memory");
	srcu_read_unlock(&hook_srcu, idx);
}

/*
 * The traced function's first argument. Here, not in compat.h: only the
 * hook needs it. 6.1 has no accessor; its ftrace_regs holds a pt_regs.
 */
#ifdef ftrace_regs_get_argument
#define hook_arg0(fregs) ftrace_regs_get_argument(fregs, 0)
#else
#define hook_arg0(fregs) regs_get_kernel_argument(&(fregs)->regs, 0)
#endif

static void notrace hook_callback(unsigned long ip, unsigned long parent_ip,
				  struct ftrace_ops *ops,
				  struct ftrace_regs *fregs)
{
	/*
	 * A bio this module submits after the filter (the nested call, a
	 * released bio) is marked again, in the same interval: no harm.
	 */
	if (tracker_mark_bio((struct bio *)hook_arg0(fregs)) &&
	    !within_module(parent_ip, THIS_MODULE))
		blksnap_set_ip(fregs,
			       (unsigned long)blksnap_submit_bio_noacct);
}

static struct ftrace_ops hook_ops = {
	.func = hook_callback,
	.flags = BLKSNAP_FTRACE_FLAGS | FTRACE_OPS_FL_IPMODIFY,
};

/**
 * hook_register() - start intercepting submit_bio_noacct()
 *
 * Context: process context (module init).
 * Return: 0 or a negative errno.
 */
int hook_register(void)
{
	unsigned long ip = (unsigned long)submit_bio_noacct;
	int ret;

	ret = ftrace_set_filter_ip(&hook_ops, ip, 0, 0);
	if (ret) {
		pr_err("cannot set the ftrace filter on submit_bio_noacct: %d\n",
		       ret);
		return ret;
	}
	ret = register_ftrace_function(&hook_ops);
	if (ret) {
		pr_err("cannot register the ftrace hook: %d\n", ret);
		goto fail_filter;
	}
	return 0;

fail_filter:
	ftrace_set_filter_ip(&hook_ops, ip, 1, 0);
	return ret;
}

/**
 * hook_synchronize() - wait for the calls in the replacement function
 *
 * On return every bio that went through the filter before the call has
 * been handed to submit_bio_noacct() (or held). Enough for the devices
 * of a snapshot (hook_synchronize_join() followed their joining it):
 * every write to them goes through the replacement.
 * Context: process context, sleeps.
 */
void hook_synchronize(void)
{
	/* The take holds writes meanwhile: no batching delay. */
	synchronize_srcu_expedited(&hook_srcu);
}

/**
 * hook_synchronize_attach() - wait for the bios that missed a new tracker
 *
 * On return every callback that ran before the call has returned (an RCU
 * grace period: its lookup runs with preemption off), and the calls in
 * the replacement have returned (hook_synchronize()). A write a callback
 * let through has then in all likelihood reached its device's queue,
 * where a queue drain waits for it; one whose thread was preempted or
 * slept between the callback and the queue for longer than the grace
 * period is not waited for (a tasks-RCU grace period would be, but costs
 * seconds per attach under load). The same holds for the writes in
 * flight when the module is loaded.
 * Context: process context, sleeps.
 */
void hook_synchronize_attach(void)
{
	synchronize_rcu();
	synchronize_srcu(&hook_srcu);
}

/**
 * hook_synchronize_join() - wait for the writes that missed a device
 * joining a snapshot
 *
 * As hook_synchronize_attach(), and also every thread one of those
 * callbacks let through has run on until it slept or left the kernel (a
 * tasks-RCU grace period): a write preempted between the callback and
 * its device's queue has entered the queue, where the take's drain
 * waits for it. Such a write was marked in the interval the snapshot
 * closes; landing after the take, without copy-on-write, it could hide
 * from both that snapshot and the next interval. The snapshot is being
 * built, no write is held, so the seconds this may cost under load are
 * not the take's.
 * Context: process context, sleeps.
 */
void hook_synchronize_join(void)
{
	synchronize_rcu_tasks();
	synchronize_srcu(&hook_srcu);
}

/**
 * hook_unregister() - stop intercepting and wait for intercepted calls
 *
 * On return no thread runs in blksnap_submit_bio_noacct() any more.
 * Context: process context (module exit).
 */
void hook_unregister(void)
{
	unregister_ftrace_function(&hook_ops);
	ftrace_set_filter_ip(&hook_ops, (unsigned long)submit_bio_noacct, 1, 0);
	/*
	 * A thread redirected just before the hook went away may not have
	 * reached srcu_read_lock() yet, and synchronize_srcu() cannot see
	 * it. Nothing on that path sleeps, so once every task has switched
	 * voluntarily (a tasks-RCU grace period) each such thread holds its
	 * SRCU read lock or has left.
	 */
	synchronize_rcu_tasks();
	/* Threads inside the replacement, even if sleeping in the block layer. */
	synchronize_srcu(&hook_srcu);
	/* And the few instructions after srcu_read_unlock(), if preempted. */
	synchronize_rcu_tasks();
}
