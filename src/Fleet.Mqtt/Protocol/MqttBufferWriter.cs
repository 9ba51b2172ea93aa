using System.Buffers.Binary;
using System.Text;

namespace Fleet.Mqtt.Protocol;

/// <summary>
/// Writes the MQTT data types (5.0 §1.5) into a span taken from an <see cref="System.Buffers.IBufferWriter{T}"/>.
/// A measuring writer (<see cref="CreateMeasuring"/>) runs the very same code without a buffer and only counts,
/// so a packet's remaining length and property lengths always agree with what is then written.
/// Values the spec forbids (over-long strings, U+0000, unpaired surrogates) throw <see cref="ArgumentException"/>:
/// they are the caller's mistake, not the peer's.
/// </summary>
internal ref struct MqttBufferWriter
{
    // Throws on unpaired surrogates instead of silently writing U+FFFD, so an invalid string never reaches the wire.
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly Span<byte> _buffer;
    private readonly bool _measuring;
    private int _position;

    public MqttBufferWriter(Span<byte> buffer)
    {
        _buffer = buffer;
    }

    private MqttBufferWriter(bool measuring)
    {
        _buffer = default;
        _measuring = measuring;
    }

    /// <summary>A writer that writes nothing and only counts the bytes it would write.</summary>
    public static MqttBufferWriter CreateMeasuring() => new(measuring: true);

    public readonly int Written => _position;

    public void WriteByte(byte value)
    {
        if (!_measuring)
        {
            _buffer[_position] = value;
        }

        _position++;
    }

    public void WriteTwoByteInteger(ushort value)
    {
        if (!_measuring)
        {
            BinaryPrimitives.WriteUInt16BigEndian(_buffer.Slice(_position, 2), value);
        }

        _position += 2;
    }

    public void WriteFourByteInteger(uint value)
    {
        if (!_measuring)
        {
            BinaryPrimitives.WriteUInt32BigEndian(_buffer.Slice(_position, 4), value);
        }

        _position += 4;
    }

    public void WriteVariableByteInteger(uint value)
    {
        if (value > MqttBufferReader.MaxVariableByteInteger)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "A Variable Byte Integer holds at most 268,435,455 (5.0 §1.5.5).");
        }

        do
        {
            var encoded = (byte)(value & 0x7F);
            value >>= 7;
            if (value > 0)
            {
                encoded |= 0x80;
            }

            WriteByte(encoded);
        }
        while (value > 0);
    }

    public static int VariableByteIntegerSize(uint value) => value switch
    {
        < 128 => 1,
        < 16_384 => 2,
        < 2_097_152 => 3,
        _ => 4,
    };

    /// <summary>Writes a UTF-8 Encoded String (5.0 §1.5.4): a two-byte length, then the bytes.</summary>
    public void WriteUtf8EncodedString(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        int count;
        try
        {
            count = StrictUtf8.GetByteCount(value);
        }
        catch (EncoderFallbackException e)
        {
            throw new ArgumentException($"String '{value}' contains an unpaired surrogate and cannot be encoded as UTF-8 [MQTT-1.5.4-1].", nameof(value), e);
        }

        if (count > ushort.MaxValue)
        {
            throw new ArgumentException($"String of {count} UTF-8 bytes exceeds the 65,535 bytes of a UTF-8 Encoded String.", nameof(value));
        }

        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("String contains the null character U+0000 [MQTT-1.5.4-2].", nameof(value));
        }

        WriteTwoByteInteger((ushort)count);
        if (!_measuring)
        {
            StrictUtf8.GetBytes(value, _buffer.Slice(_position, count));
        }

        _position += count;
    }

    /// <summary>Writes a UTF-8 Encoded String from bytes the caller already holds, validating them first.</summary>
    public void WriteUtf8EncodedString(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > ushort.MaxValue)
        {
            throw new ArgumentException($"String of {utf8.Length} UTF-8 bytes exceeds the 65,535 bytes of a UTF-8 Encoded String.", nameof(utf8));
        }

        try
        {
            MqttBufferReader.ValidateUtf8(utf8, MqttProtocolVersion.V500);
        }
        catch (MqttProtocolException e)
        {
            throw new ArgumentException(e.Message, nameof(utf8), e);
        }

        WriteTwoByteInteger((ushort)utf8.Length);
        WriteBytes(utf8);
    }

    /// <summary>Writes Binary Data (5.0 §1.5.6): a two-byte length, then the bytes.</summary>
    public void WriteBinaryData(ReadOnlySpan<byte> value)
    {
        if (value.Length > ushort.MaxValue)
        {
            throw new ArgumentException($"Binary Data of {value.Length} bytes exceeds 65,535 bytes.", nameof(value));
        }

        WriteTwoByteInteger((ushort)value.Length);
        WriteBytes(value);
    }

    /// <summary>Writes a UTF-8 String Pair (5.0 §1.5.7).</summary>
    public void WriteUtf8StringPair(string name, string value)
    {
        WriteUtf8EncodedString(name);
        WriteUtf8EncodedString(value);
    }

    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        if (!_measuring)
        {
            bytes.CopyTo(_buffer[_position..]);
        }

        _position += bytes.Length;
    }
}
