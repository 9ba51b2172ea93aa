using System.Text;
using BenchmarkDotNet.Attributes;
using Fleet.Core.Telemetry;
using Fleet.Silo.Persistence;

namespace Fleet.Benchmarks;

/// <summary>
/// The client-side encoding alone of the COPY batch writer (<see cref="PositionWriterBenchmarks"/> measures it with
/// the round trips): 1,000 rows of the same shape into one encoder, per row, no database needed. Half the rows carry
/// a small obd object, as many terminals send one.
/// </summary>
public class PositionCopyEncoderBenchmarks
{
    public const int BatchRows = 1_000;

    private readonly PositionRow[] _rows = new PositionRow[BatchRows];
    private PositionCopyEncoder? _encoder;

    [GlobalSetup]
    public void Setup()
    {
        var obd = Encoding.UTF8.GetBytes("""{"rpm": 2100, "coolant": 88, "dtc": ["P0300"]}""");
        for (var i = 0; i < BatchRows; i++)
        {
            var fix = Payloads.BatchFix(Payloads.NowMs, i);
            _rows[i] = new PositionRow(i % 100, fix, Payloads.NowMs, i % 2 == 0 ? obd : ReadOnlyMemory<byte>.Empty);
        }

        _encoder = new PositionCopyEncoder();
        Settle.Run(EncodeBatchPerRow);
    }

    [Benchmark(Description = "COPY encoder alone, 1,000-row batch, per row", OperationsPerInvoke = BatchRows)]
    public int EncodeBatchPerRow()
    {
        // As the writer does: flush (here: drop) the buffer whenever it passes the chunk size.
        var encoder = _encoder!;
        var bytes = 0;
        encoder.Clear();
        encoder.WriteHeader();
        for (var i = 0; i < _rows.Length; i++)
        {
            encoder.WriteRow(_rows[i]);
            if (encoder.Length >= PositionCopyEncoder.FlushThreshold)
            {
                bytes += encoder.Length;
                encoder.Clear();
            }
        }

        encoder.WriteTrailer();
        return bytes + encoder.Length;
    }

    [GlobalCleanup]
    public void Cleanup() => _encoder?.Dispose();
}
