/* SPDX-License-Identifier: MIT */
/*
 * The context switch (x86-64 SysV). A suspended context is just a stack
 * pointer; everything else lives on the suspended stack:
 *
 *   low  [mxcsr:4][x87 cw:2][pad:2] r15 r14 r13 r12 rbx rbp retaddr  high
 *
 * MXCSR's control bits and the x87 control word are callee-saved in the
 * SysV ABI, so a process that changes its rounding mode keeps it to itself.
 *
 *   void *gp_ctx_switch(struct gp_ctx *from, struct gp_ctx *to, void *val);
 *
 * saves the caller into *from, resumes *to, and makes the resumed side's
 * gp_ctx_switch return val: the switcher passes its scheduler, so a process
 * that migrated learns where it now runs without trusting a cached TLS
 * address.
 */
	.text
	.globl	gp_ctx_switch
	.hidden	gp_ctx_switch
	.type	gp_ctx_switch,@function
	.p2align 4
gp_ctx_switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	(%rsi), %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	movq	%rdx, %rax
	ret
	.cfi_endproc
	.size	gp_ctx_switch,.-gp_ctx_switch

/*
 * First activation of a process stack (see gp_ctx_init): the initial frame
 * "returns" here with the switcher's val in rax and rsp 16-byte aligned.
 * r12 holds the entry function; it must not return. The undefined return
 * address ends backtraces (gdb, frame-pointer unwinders in BPF) cleanly.
 */
	.globl	gp_ctx_trampoline
	.hidden	gp_ctx_trampoline
	.type	gp_ctx_trampoline,@function
	.p2align 4
gp_ctx_trampoline:
	.cfi_startproc
	.cfi_undefined rip
	movq	%rax, %rdi
	xorl	%ebp, %ebp
	callq	*%r12
	ud2
	.cfi_endproc
	.size	gp_ctx_trampoline,.-gp_ctx_trampoline

	.section .note.GNU-stack,"",@progbits
