/*
 * C declarations of the kernel's physical page accounting, after illumos'
 * vm/page.h and sys/vnode.h (the members mdb's ::memstat and the page
 * walker read).  Laid out by the ctf layer for the kernel's data model and
 * written into unix.N, so mdb reads the same layouts.
 *
 * Every physical page has a page_t in the `pages` array (pfn order).  A
 * page in use has an identity, its vnode and offset (a kernel page: `kvp`
 * and its kernel virtual address), and is on the `page_hash` chain of that
 * identity; a free page has neither (p_vnode NULL, P_FREE in p_state).
 */

export const KERNEL_VM_TYPES = `
typedef unsigned long long u_offset_t;
typedef unsigned long pfn_t;
typedef unsigned long pgcnt_t;

typedef struct vnode {
	unsigned int v_flag;	/* VVMEXEC ... */
	int v_count;
	void *v_op;		/* its vnodeops */
	char *v_path;
} vnode_t;

typedef struct page {
	u_offset_t p_offset;	/* offset in the vnode (kvp: the kernel virtual address) */
	struct vnode *p_vnode;	/* NULL while free */
	struct page *p_hash;	/* page_hash chain */
	pfn_t p_pagenum;	/* physical page number */
	unsigned int p_selock;
	unsigned char p_state;	/* P_FREE ... */
	unsigned char p_lckcnt;
	unsigned short p_cowcnt;
} page_t;
`;

/* page_t.p_state */
export const P_FREE = 0x80;

/* vnode_t.v_flag */
export const VVMEXEC = 0x10000;

/* Pages a page_hash chain holds on average when physical memory is full (illumos' PAGE_HASHAVELEN). */
export const PAGE_HASHAVELEN = 4;
