using System.Buffers;
using System.Globalization;
using System.Text;

namespace Fleet.Web.Telemetry;

/// <summary>
/// Renders a stored payload head as readable, safe text: valid UTF-8 stays as it is (Chinese included), control
/// characters become \n, \t, \u00XX, and bytes that are not UTF-8 become \xNN. The head is cut at 256 bytes, so a
/// character split at the end shows as \x escapes rather than a replacement character.
/// </summary>
public static class PayloadText
{
    public static string Escape(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder(bytes.Length + 16);
        while (!bytes.IsEmpty)
        {
            var status = Rune.DecodeFromUtf8(bytes, out var rune, out var consumed);
            if (status != OperationStatus.Done)
            {
                text.Append(CultureInfo.InvariantCulture, $"\\x{bytes[0]:X2}");
                bytes = bytes[1..];
                continue;
            }

            switch (rune.Value)
            {
                case '\\':
                    text.Append(@"\\");
                    break;
                case '\n':
                    text.Append(@"\n");
                    break;
                case '\r':
                    text.Append(@"\r");
                    break;
                case '\t':
                    text.Append(@"\t");
                    break;
                default:
                    if (Rune.IsControl(rune))
                    {
                        text.Append(CultureInfo.InvariantCulture, $"\\u{rune.Value:X4}");
                    }
                    else
                    {
                        text.Append(rune.ToString());
                    }

                    break;
            }

            bytes = bytes[consumed..];
        }

        return text.ToString();
    }
}
