/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef __BLKSNAP_CTRL_H
#define __BLKSNAP_CTRL_H

int ctrl_register(void);
void ctrl_unregister(void);

#endif /* __BLKSNAP_CTRL_H */
