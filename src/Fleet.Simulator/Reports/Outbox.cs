namespace Fleet.Simulator.Reports;

public enum OutboxKind : byte
{
    /// <summary>To <c>fleet/v1/{id}/telemetry</c>: one report object or a backlog array.</summary>
    Telemetry,

    /// <summary>Retained <c>online</c> to <c>fleet/v1/{id}/status</c>.</summary>
    Online,

    /// <summary>Retained <c>offline</c> to <c>fleet/v1/{id}/status</c>.</summary>
    Offline,
}

public readonly record struct OutboxMessage(OutboxKind Kind, int Start, int Length, int Reports);

/// <summary>
/// What one vehicle step wants sent, in order, written into one reusable buffer: the vehicle formats straight into
/// it and the publisher copies from it into the MQTT client, so a report is never copied twice.
/// </summary>
public sealed class Outbox
{
    public static ReadOnlySpan<byte> OnlinePayload => "online"u8;

    public static ReadOnlySpan<byte> OfflinePayload => "offline"u8;

    private readonly List<OutboxMessage> _messages = [];
    private byte[] _buffer = new byte[4096];
    private int _length;

    public int Count => _messages.Count;

    public OutboxMessage this[int index] => _messages[index];

    public ReadOnlySpan<byte> Payload(OutboxMessage message) => message.Kind switch
    {
        OutboxKind.Online => OnlinePayload,
        OutboxKind.Offline => OfflinePayload,
        _ => _buffer.AsSpan(message.Start, message.Length),
    };

    public void Clear()
    {
        _messages.Clear();
        _length = 0;
    }

    public void AddStatus(bool online) => _messages.Add(new OutboxMessage(online ? OutboxKind.Online : OutboxKind.Offline, 0, 0, 0));

    public void AddReport(in TelemetrySample sample)
    {
        var written = ReportFormatter.Write(Reserve(ReportFormatter.MaxReportBytes), sample);
        _messages.Add(new OutboxMessage(OutboxKind.Telemetry, _length, written, 1));
        _length += written;
    }

    /// <summary>
    /// Store-and-forward upload: the samples (in ts order) as JSON arrays of at most <paramref name="maxReports"/>
    /// objects and at most <paramref name="maxBytes"/> bytes each, so every array passes the gateway's limits.
    /// </summary>
    public void AddBacklog(IReadOnlyList<TelemetrySample> samples, int maxReports, int maxBytes)
    {
        var index = 0;
        while (index < samples.Count)
        {
            var start = _length;
            Reserve(1)[0] = (byte)'[';
            _length++;
            var inArray = 0;
            while (index < samples.Count && inArray < maxReports)
            {
                var span = Reserve(ReportFormatter.MaxReportBytes + 1);
                var separator = inArray == 0 ? 0 : 1;
                var written = ReportFormatter.Write(span[separator..], samples[index]);

                // +1 for the closing bracket; an array always takes at least one report.
                if (inArray > 0 && _length - start + separator + written + 1 > maxBytes)
                {
                    break;
                }

                if (separator == 1)
                {
                    span[0] = (byte)',';
                }

                _length += separator + written;
                inArray++;
                index++;
            }

            Reserve(1)[0] = (byte)']';
            _length++;
            _messages.Add(new OutboxMessage(OutboxKind.Telemetry, start, _length - start, inArray));
        }
    }

    private Span<byte> Reserve(int bytes)
    {
        if (_length + bytes > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + bytes));
        }

        return _buffer.AsSpan(_length, bytes);
    }
}
