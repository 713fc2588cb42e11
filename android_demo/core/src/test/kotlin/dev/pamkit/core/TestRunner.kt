package dev.pamkit.core

import org.junit.runner.JUnitCore
import org.junit.runner.notification.Failure
import kotlin.system.exitProcess

/**
 * Runs JUnit 4 test classes named on the command line and prints one summary line, `N passed, N failed,
 * N skipped`, which CI's log reader counts (JUnitCore's own summary is not recognised). Exit 1 on any failure.
 */
fun main(args: Array<String>) {
    val result = JUnitCore().run(*args.map { Class.forName(it) }.toTypedArray())
    result.failures.forEach { f: Failure ->
        println("FAILED ${f.testHeader}: ${f.message}")
        println(f.trace.lineSequence().take(8).joinToString("\n") { "    $it" })
    }
    val skipped = result.ignoreCount + result.assumptionFailureCount
    val passed = result.runCount - result.failureCount - result.assumptionFailureCount
    println("$passed passed, ${result.failureCount} failed, $skipped skipped")
    exitProcess(if (result.failureCount == 0 && result.runCount > 0) 0 else 1)
}
