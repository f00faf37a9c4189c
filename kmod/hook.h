/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef __BLKSNAP_HOOK_H
#define __BLKSNAP_HOOK_H

int hook_register(void);
void hook_unregister(void);
void hook_synchronize(void);
void hook_synchronize_attach(void);
void hook_synchronize_join(void);

#endif /* __BLKSNAP_HOOK_H */
