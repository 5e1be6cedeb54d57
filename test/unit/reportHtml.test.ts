import { describe, expect, it } from 'vitest';
import {
  escapeHtml,
  inlineJson,
  inlineScript,
  renderReportHtml,
  REPORT_CSP,
} from '../../src/web/report/reportHtml.ts';

const HOSTILE = '</script><!--<script>alert(1)</script>\u2028\u2029</SCRIPT >&"\'';

describe('report HTML', () => {
  it('inlines JSON that cannot end its element and reads back unchanged', () => {
    const value = { name: HOSTILE, nested: [HOSTILE, 1.5, null, { [HOSTILE]: true }] };
    const text = inlineJson(value);
    expect(text).not.toMatch(/[<\u2028\u2029]/);
    expect(JSON.parse(text)).toEqual(value);
  });

  it('inlines code whose strings and regular expressions mention </script>, meaning the same', () => {
    const code = 'return ["</script>", `</Script>`, /<\\/script>|<\\/SCRIPT/.source, "a</scriptb"];';
    const inlined = inlineScript(code, 'test');
    expect(inlined).not.toMatch(/<\/script/i);
    // The point: the rewritten code runs the same.
    expect(new Function(inlined)()).toEqual(new Function(code)());
  });

  it('refuses code containing "<!--" rather than inlining something the parser would misread', () => {
    expect(() => inlineScript('const s = "<!--";', 'analytics.js')).toThrow(
      'analytics.js contains "<!--" and cannot be inlined in a report',
    );
  });

  it('escapes text for element content and attributes', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('puts every script in its own element, after the data, with no way to reach the network', () => {
    const html = renderReportHtml({
      title: `Report <${HOSTILE}>`,
      scope: [`tenant ${HOSTILE}`],
      data: { x: HOSTILE },
      scripts: ['var a = "</script>";'],
      module: 'const b = "</script>";',
      css: 'a::after { content: "</style>"; }',
      body: '<div id="analytics"></div>',
    });
    expect(html.match(/<script/gi)).toHaveLength(3);
    expect(html.match(/<\/script>/gi)).toHaveLength(3);
    expect(html.match(/<\/style>/gi)).toHaveLength(1);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="${escapeHtml(REPORT_CSP)}">`);
    expect(REPORT_CSP).toMatch(/^default-src 'none'; script-src 'unsafe-inline';/);
    expect(html).not.toMatch(/\b(src|href)=/);
    // In text U+2028/U+2029 are harmless; inside a script they must be escaped.
    for (const script of html.match(/<script[^>]*>.*?<\/script>/gs)!)
      expect(script).not.toMatch(/[\u2028\u2029]/);
    expect(html).not.toContain('<!--');
  });
});
