/* qlora-tools: ISC license. */
/* The memory the kernel says is available for new allocations (Linux /proc/meminfo). */
#ifndef QT_MEMINFO_H
#define QT_MEMINFO_H

/* MemAvailable in bytes, or -1 where it cannot be read. */
long long qt_mem_available(void);

#endif
