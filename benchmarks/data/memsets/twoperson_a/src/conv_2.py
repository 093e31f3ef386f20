# tp-a-2: Margaret (74, widowed grandmother in Whitby; memory owner) and her grandson Oliver (19,
# electrician apprentice in Newcastle). Sep 2023 - Jul 2024. All text hand-written.
CONV = "tp-a-2"
OWNER = "Margaret"
NAMES = {"M": "Margaret", "O": "Oliver"}
QUESTION_TIME = "2024-08-02T09:30:00+01:00"

SESSIONS = [
("2023-09-10T16:05:00+01:00", """
M| Hello Oliver love, it's Nan. Your dad says you've started your new job. How did the first week go?
O| Hiya Nan! Yeah I started on Monday. It's an apprenticeship with Tyneside Electrical. @@o_apprentice_start
M| An electrician! Your grandad would have been so pleased. He was always fiddling with plugs.
O| Ha, Dad says Grandad Frank once blew every fuse on the street.
M| That's true, on Christmas Eve 1987. We ate by candlelight. It was quite romantic actually.
O| Ha that's brilliant. My boss is called Gary, he's alright. Bit shouty but he's sound. @@o_boss_gary
M| Shouty is fine as long as he's fair. Are they teaching you properly?
O| Mostly I carry stuff and make brews so far. But I'm going to college on Wednesdays as well. @@o_college_wed
M| Well everyone starts by making the tea, Oliver. I did at the post office in 1966.
O| Ha. How's things in Whitby Nan?
M| Busy! The allotment has gone mad. I've got so many runner beans I'm giving them to strangers. @@m_runner_beans
O| Save some for me ha
M| I'll freeze you a bag. And Pepper ate a whole courgette off the plant yesterday, the little monkey. @@m_pepper_courgette
O| Haha Pepper is a legend. Is she ok?
M| She's perfectly fine, just very pleased with herself. Border terriers will eat anything. @@m_border_terrier
O| Give her a pat from me Nan.
M| I will. Proud of you, love. Ring me on Sunday if you can. Love Nan x
"""),
("2023-09-24T18:30:00+01:00", """
M| Oliver, guess what. I came second at the Egton Show yesterday with my rhubarb and ginger jam! @@m_jam_second
O| NAN! That's mint! Who beat you?
M| Sylvia Pickering, as usual. Her damson jam wins every year. I think she bribes the judges.
O| Haha bet she does. Next year you'll get her.
M| That's the plan. Doreen says I need more ginger. What's your news, love?
O| I've had my first driving lesson! Instructor's called Baz. @@o_driving_start
M| Oh how exciting. Did you go on the main roads?
O| Just round an industrial estate. I stalled like six times
M| Everyone stalls, Oliver. Your dad drove into a hedge on his first lesson.
O| He never told me that!!
M| Well now you know. Ask him about the hedge at Sunday dinner.
O| I definitely will ha. Ellie started year 11 this week as well, she's already stressed about GCSEs. @@o_ellie_y11
M| Poor Ellie. Tell her Nan says to eat proper breakfasts and not to stay up all night on her phone.
O| She will ignore that but I'll tell her
M| I know she will. I'll send her a card. Night love x
O| Night Nan x
"""),
("2023-10-15T14:12:00+01:00", """
O| Nan can you see me?? Is the video working?
M| I can see you! Well, I can see your ceiling, Oliver.
O| Ha Margaret you're holding the tablet upside down
M| Oh for goodness' sake. There. Is that better?
O| Yes! Perfect. See, told you WhatsApp video was easy. @@m_tablet_whatsapp
M| It's marvellous. I'll be able to ring Doreen when she's at her daughter's in Scarborough.
O| Ha you can video call anyone now. How's bridge going?
M| Oh, Tuesdays are my best day. Doreen and I partner at the church hall. We beat the vicar last week. @@m_bridge_tuesday
O| Haha did he take it well
M| He said something about humility. Anyway, you look tired, love. Are they working you hard?
O| Bit. We're doing a big job at a school in Gateshead. But Nan I've got news
M| Go on then.
O| I met a girl. Her name's Zoe. We met at my mate Kieran's birthday. @@o_met_zoe
M| Oh Oliver! What's she like?
O| She's really funny. She's at uni doing history. She knows loads about castles. @@o_zoe_castles
M| Well you'll have to bring her to Whitby. We've got an abbey.
O| Ha I'll tell her. Don't tell Dad yet
M| My lips are sealed, love. Now, which button ends the call?
O| The red one Nan
M| Right. Bye love!
"""),
("2023-11-05T19:40:00+00:00", """
M| Are you having fireworks, Oliver? Whitby sounds like a war zone tonight.
O| Yeah Kieran's lot are doing a bonfire in the park. How's Pepper coping?
M| Not well. She's in the airing cupboard wrapped in one of your grandad's old jumpers. @@m_pepper_fireworks
O| Aw poor Pepper. Give her a biscuit
M| She's had three. Don't tell the vet.
O| Ha. I had a good week actually Nan. Gary let me wire a consumer unit on Friday. With him watching obviously. @@o_consumer_unit
M| A consumer unit. Is that the fuse box?
O| Yeah basically. I didn't blow up the street so that's a win over Grandad
M| Cheeky. He'd be thrilled to hear it though.
O| What you been up to?
M| I've started knitting you a jumper. Don't get excited, it'll take me till Christmas. @@m_knitting_jumper
O| Nan!! What colour?
M| Bottle green. It'll bring out your eyes. @@m_jumper_green
O| You're the best. Can it have a reindeer on
M| Absolutely not. I'm a knitter, not a miracle worker.
O| Haha fair enough
M| Stay safe near that bonfire, love. Keep your eyebrows.
O| Will do Nan x
"""),
("2023-11-26T15:18:00+00:00", """
O| Nan, it's official, me and Zoe are going out properly now
M| Oh Oliver, that's lovely news! Does your dad know yet?
O| Yeah I told him and Mum at Sunday dinner. Mum made a big fuss. @@o_zoe_official
M| Of course she did. Karen loves a fuss. Is Zoe nice to you?
O| She's great Nan. She made me watch a four hour documentary about Henry VIII though
M| That's love, that is. Now, I have news too.
O| Go on Nan, spill
M| I've joined the Whitby Community Choir. Doreen talked me into it. @@m_joined_choir
O| NAN! Since when do you sing?
M| I sang in the church choir until I was twenty-five, thank you very much. I'm an alto. @@m_alto
O| I never knew that! What do you sing?
M| All sorts. We're learning a Beatles medley and some carols. The conductor, Hilary, is ever so strict.
O| Ha. When's the concert?
M| Just before Christmas, at St Mary's. I'll tell you the date when I know.
O| Is Christmas still at ours?
M| Yes. Your dad's asked me to come over to Newcastle. I'm getting the train on the twenty-second and staying till the twenty-seventh. @@m_christmas_plan
O| Sound! Will you make the trifle
M| I always make the trifle, Oliver.
O| Best news ever. Love you Nan
M| Love you too. Say hello to Zoe for me.
"""),
("2023-12-17T11:22:00+00:00", """
M| Good morning, love. The jumper is finished! I cast off last night.
O| NO WAY. Send a picture!!
M| I'm not sure how to do that on the tablet. I'll just bring it at Christmas.
O| Ha fair. Can't wait Nan
M| How are you? Are you ready for Christmas?
O| Nearly. Got Zoe a necklace. Also I've booked my driving test! It's the 18th of January. @@o_test_booked
M| Oh that's exciting. Baz must think you're ready.
O| He says I'm ready but my roundabouts are "creative"
M| Ha! Well, creative is one word for it. Just go slowly and look both ways.
O| That's what he says. How's the choir?
M| Concert's on Wednesday evening at St Mary's. I'm very nervous. @@m_concert_date
O| You'll be class Nan. Is Doreen singing too?
M| She is, she's a soprano. Very loud soprano. Hilary has asked her to "blend". @@m_doreen_soprano
O| Haha. Record it for me
M| I'll ask Alan from next door, he's got a proper camera. He'll be there anyway.
O| Perfect. Good luck!!
M| Thank you love. I'll see you on the twenty-second.
O| Can't wait. Bring Pepper?
M| Pepper's going to Doreen's daughter. She hates trains. See you soon x
"""),
("2024-01-07T17:05:00+00:00", """
O| Nan did you get home ok? Dad said the train was delayed
M| I did, love, an hour late but I had a nice chat with a lady from Malton. Thank you for a lovely Christmas.
O| It was the best one. Sorry about the Yorkshires
M| Oliver, I've never seen a Yorkshire pudding go black before. You set the smoke alarm off twice. @@o_burned_yorkshires
O| Haha Mum still hasn't forgiven me
M| It was very funny. And the jumper fits you, which is a relief. I was worried about the sleeves.
O| I've worn it like four times already. Zoe says it's "very cosy grandad chic"
M| I'll take that as a compliment. Did she like the necklace?
O| She loved it! She's coming to ours for tea next week. Dad's nervous
M| Steven's always nervous. Now, I have a New Year's resolution.
O| Ooh go on then Nan
M| Doreen and I have decided to go to Lisbon in the spring. We've never been abroad on our own. @@m_lisbon_plan
O| NAN! That's class! Have you got a passport?
M| I renewed it in November, actually. I've been planning this quietly.
O| You sneaky thing ha
M| And I've started learning Portuguese on that little green owl app you put on my tablet. @@m_portuguese
O| Duolingo! Say something
M| Obrigada. That's thank you. And "o cão é pequeno", the dog is small.
O| Pepper would be offended
M| She would. Right, off to walk the small dog. Love you x
"""),
("2024-01-21T13:48:00+00:00", """
O| Nan I failed my test
M| Oh love. I'm sorry. What happened?
O| Roundabout by the Metro Centre. Went when I shouldn't have. Serious fault. Everything else was fine @@o_failed_test
M| Well, the roundabouts were always going to be the tricky bit. Baz did say "creative".
O| Ha yeah. I'm gutted though. Kieran passed first time and he can't even park
M| Kieran's not you. Lots of people fail the first time, Oliver. Your grandad failed twice. @@m_frank_failed
O| Grandad failed?? Really??
M| Twice! And he drove a bus for thirty years after that. @@m_frank_bus
O| No way Grandad drove buses
M| The number 93 to Scarborough. Everyone knew him. He kept a tin of mint imperials by the ticket machine for the children, and at Christmas he wore a Santa hat all week even though the depot told him off every single year. @@m_frank_93
O| That's made me feel loads better actually
M| Good. Have you booked another one?
O| Yeah, the 7th of March. Baz is doing roundabout lessons with me every week. @@o_retest_booked
M| Perfect. You'll be driving up to see me by summer.
O| That's the plan! How's you anyway?
M| Oh, fine. Freezing. The allotment's frozen solid so I'm reading seed catalogues in bed.
O| Haha rock and roll
M| That's me, love. Chin up. Nan x
"""),
("2024-02-11T15:30:00+00:00", """
M| Hello Oliver. I've ordered my seed potatoes! Charlotte, they're lovely in a salad. @@m_seed_potatoes
O| Hiya Nan! Ha you're so excited about potatoes
M| You wait until you have a garden, love. Potatoes are thrilling.
O| I believe you. Nan I need advice
M| Oh? Go on.
O| It's Valentine's on Wednesday and I want to do something nice for Zoe but she hates restaurants that are fancy
M| Cook for her. Nothing says you care like a proper meal you made yourself.
O| I can't cook tho. You saw the Yorkshires
M| I'll give you my beef stew recipe. Even you can't burn a stew. You just leave it in the oven.
O| Ok send it!!
M| Brown the beef, onions, carrots, a spoonful of flour, a good glug of stout, thyme, and three hours low in the oven. Dumplings at the end. @@m_stew_recipe
O| Stout?? In food??
M| It's the secret, Oliver. Grandad's favourite. Don't tell anyone.
O| Haha I won't. Thanks Nan. Also I've got my wiring regs exam at college in June, the 18th Edition one. @@o_18th_edition
M| Is that hard?
O| Gary says it's the worst one. It's like a giant book of rules @@o_gary_worst
M| Well you always liked rules. You used to tell Ellie off for cheating at Monopoly.
O| She did cheat tho
M| She did. Good luck with the stew, love. Let me know how it goes.
"""),
("2024-03-08T18:55:00+00:00", """
O| NAN!!! Guess what
O| I PASSED NAN!!!
M| Oh Oliver! Your driving test? That's wonderful!
O| Yesterday! Only three minors. Went round the Metro Centre roundabout perfect @@o_passed_test
M| I knew you could do it. I'm so proud of you, love.
O| Baz actually hugged me. Then he said "don't get cocky"
M| Good advice from Baz. Your grandad would be pleased too. Once, not twice.
O| Haha. How's Lisbon planning going?
M| All booked! Doreen and I fly from Leeds Bradford on the fifteenth of April and come back on the twentieth. @@m_lisbon_dates
O| Ahh that's class Nan. Where you staying?
M| A little hotel in the Alfama. It has a roof terrace. Doreen wants to drink port on it.
O| Ha sounds like Doreen
M| It very much does. Did Zoe like the stew, by the way? You never told me.
O| Oh yeah she loved it! I didn't burn anything. I did forget the dumplings though @@o_stew_valentine
M| Dumplings are a bonus, love. A stew without dumplings is still a stew.
O| That's deep Nan
M| I'm full of wisdom. Now go and celebrate. Safely.
O| Love you Nan x
"""),
("2024-03-24T12:40:00+00:00", """
O| Nan I've bought a car!!
M| Already? Goodness me. What kind?
O| 2012 Ford Fiesta. Blue. It's Gary's cousin's, so he says it's honest @@o_car
M| Was it expensive?
O| £3,200. Took me ages to save. Insurance is a nightmare though @@o_car_price
M| Your grandad always said buy from someone you know. Well done, Oliver.
O| I've called it Bluey. Zoe thinks that's daft @@o_bluey
M| I think it's lovely. Much better than Doreen's car, she calls hers "The Beast".
O| Ha. How's the Portuguese going?
M| Muito bem! I'm on a forty-day streak with the owl. @@m_duo_streak
O| Forty days! Margaret you absolute machine, that's more than me on anything
M| I do it every morning with my tea. Doreen's given up, so I'll be the one ordering dinner. @@m_duo_morning
O| Ha. Ellie's got her mocks this week btw, she's living in her room
M| Poor love. I'll send her a parcel of flapjack. Brain food.
O| She'd love that
M| And you're still coming for the summer?
O| Yeah! Me and Zoe want to come in July. I'll drive us in Bluey
M| Oh wonderful. I'll get the spare room ready. Drive carefully, love.
"""),
("2024-04-24T17:15:00+01:00", """
M| I'm home! Lisbon was absolutely wonderful, Oliver.
O| NAN! Welcome back!! Tell me everything
M| Oh where to start. We rode the old yellow tram, number 28, up all those steep hills, and Doreen screamed at every corner. A young man gave me his seat and I was so flattered I didn't have the heart to tell him I'm perfectly capable of standing. @@m_tram28
O| Haha I can picture it
M| And we ate custard tarts every single day. Pastéis de nata. I might have had eleven. @@m_pasteis
O| ELEVEN?! Margaret! Behave!
M| It's a holiday, Oliver. Calories don't count abroad.
O| Fair. Did you get to use your Portuguese?
M| I ordered dinner in Portuguese and the waiter answered in English. But he said my accent was "very nice". @@m_ordered_portuguese
O| That still counts!
M| I think so. Doreen lost her sunhat on the second day. It blew off the castle walls.
O| Noooo. RIP sunhat
M| We went to a fado evening too, it was so sad and beautiful. I cried a bit. @@m_fado
O| Aww Nan that's lovely
M| I bought you something. A painted tile, blue and white. For your new place, whenever you get one. @@m_bought_tile
O| Nan you're the best. Actually funny you say that
M| Oh? What do you mean, love?
O| I'll tell you properly soon, nothing's signed yet
M| You can't leave your nan in suspense like that!
O| Ha soon I promise!!
"""),
("2024-05-12T16:00:00+01:00", """
O| Ok Nan so the news. I'm moving out!
M| Oh Oliver! Where to?
O| A shared house in Heaton with Kieran and Josh. Moving in on the 1st of June @@o_moving_heaton
M| Heaton. Is that far from your mum and dad?
O| Like fifteen minutes. Mum's already crying about it
M| Of course she is. And you'll be able to cook for yourself. Heaven help us.
O| Ha I know. I'm going to practise the stew
M| Good lad. And you can put my tile up in the kitchen.
O| That's the plan! Kieran said it's the first piece of art we own
M| I'm honoured. Do your mum and dad mind?
O| Dad's happy, he gets my room for his guitars
M| Steven and those guitars. He never learned more than three chords.
O| Haha that's still true. How's the allotment?
M| Potatoes are in and the rhubarb is enormous. I'm thinking of entering jam at the Egton Show again in August, but strawberry this time. @@m_strawberry_plan
O| Revenge on Sylvia!
M| Exactly. Doreen's going to be my taster.
O| Nan that's so exciting. Wish I could be there
M| You can try it in July. Good luck with the move, love.
"""),
("2024-06-09T19:10:00+01:00", """
O| Nan we're in! First week in the new house done
M| Oh well done, love. How is it?
O| Good! Bit messy. Josh does not wash up
M| Every house has one. Make a rota. Grandad and I had a rota for forty years.
O| Haha I'll try. I burned the rice on Wednesday though @@o_rice_wed
M| Oliver! How do you burn rice?
O| I went to the shop and forgot it was on @@o_burned_rice
M| Well, at least it wasn't the Yorkshires again. Did the smoke alarm go?
O| Yeah the neighbours came round lol
M| That's one way to meet them. I've got news as well, a little one.
O| Go on then Nan, what is it
M| Alan next door fixed my fence. Pepper had been squeezing through the gap and visiting his hens. @@m_alan_fence
O| Haha Pepper the hen hunter
M| She just wants friends. The hens don't agree.
O| Lol. Oh and big news, I passed my 18th Edition exam! Got 82 percent @@o_passed_18th
M| Oliver, that's brilliant! Was it the big rule book one?
O| Yeah! Gary took me for a pint after @@o_gary_pint
M| Well deserved. You're doing so well, love. I'm very proud.
O| Thanks Nan. And I put your tile up! It's above the kettle @@o_tile_kettle
M| Perfect place. You'll see it every time you make a brew.
"""),
("2024-06-30T14:25:00+01:00", """
M| Hello love. Is the thirteenth still happening?
O| Yes! Me and Zoe are driving down on the Saturday morning. Staying till Monday @@o_visit_plan
M| Lovely. I've aired the spare room and bought the good biscuits.
O| Haha the fancy ones from Botham's?
M| Of course. Zoe's a guest.
O| She's so excited. She wants to go up to the abbey @@o_zoe_abbey
M| We'll go up the 199 steps. I'll take it slowly and she can tell me all the history.
O| She'll love that Nan. Ellie finished her GCSEs btw
M| Oh, thank goodness. How does she think she did?
O| She thinks ok. She wants to do A-levels in art and photography @@o_ellie_alevels
M| Oh, she always drew beautifully. She used to draw Pepper on napkins.
O| Ha yeah. She's doing a portrait of Pepper for you actually. Don't tell her I told you
M| My lips are sealed. Oh, the jam! I've decided on strawberry and black pepper. @@m_black_pepper
O| Black pepper?? In jam??
M| Doreen read about it in a magazine. It's very modern. It's for the show on the seventh of August. @@m_show_date
O| Nan you're going to win this year I can feel it
M| Let's not count chickens. Drive safe on the thirteenth, love.
O| Will do. See you soon!!
"""),
("2024-07-21T18:00:00+01:00", """
M| Thank you for coming, Oliver. The house feels very quiet now.
O| Thanks for having us Nan! It was the best weekend
M| Zoe is a lovely girl. She knew more about the abbey than the tour guide, and she didn't once complain about the steps, even when that seagull took her ice cream. You hold on to that one, Oliver.
O| Haha she really did. She's still talking about it
M| And the Magpie Café! I haven't had fish and chips that good in years. @@m_magpie
O| Zoe said it's the best she's ever had. Even better than Tynemouth
M| High praise from a Geordie.
O| Lol she's from Durham but I'll let it slide
M| And thank you for fixing my outside light. I've been going out to the bins in the dark for a month. @@o_fixed_light
O| No worries Nan, it was just a dodgy connection. Easy
M| Listen to you. "Easy." My grandson the electrician.
O| Haha still an apprentice
M| For now. Pepper's been sulking by the spare room door since Monday. She misses Zoe.
O| Aww. Zoe misses her too. She wants a dog now
M| Well, tell her to visit Pepper until she's ready. Dogs are a big job.
O| I will. Good luck at the show Nan. Beat Sylvia!
M| I'll try my very best. I'll let you know. Love you, Olly.
O| Love you too Nan x
"""),
]

QUESTIONS = [
# single-hop
("single-hop", "Which company is Oliver doing his apprenticeship with?", "Tyneside Electrical.", "o_apprentice_start"),
("single-hop", "What did Pepper eat from Margaret's allotment in September?", "A whole courgette, straight off the plant.", "m_pepper_courgette"),
("single-hop", "What did Margaret enter at the Egton Show in 2023, and how did she do?", "Rhubarb and ginger jam. She came second.", "m_jam_second"),
("single-hop", "Who is Oliver's driving instructor?", "Baz.", "o_driving_start"),
("single-hop", "Where and when does Margaret play bridge?", "On Tuesdays at the church hall, with Doreen as her partner.", "m_bridge_tuesday"),
("single-hop", "How did Oliver meet Zoe?", "At his mate Kieran's birthday.", "o_met_zoe"),
("single-hop", "Where did Pepper hide on bonfire night?", "In the airing cupboard, wrapped in one of Grandad Frank's old jumpers.", "m_pepper_fireworks"),
("single-hop", "What colour is the jumper Margaret knitted for Oliver?", "Bottle green.", "m_jumper_green"),
("single-hop", "What choir did Margaret join?", "The Whitby Community Choir; Doreen talked her into it.", "m_joined_choir"),
("single-hop", "What went wrong when Oliver cooked at Christmas?", "He burned the Yorkshire puddings black and set the smoke alarm off twice.", "o_burned_yorkshires"),
("single-hop", "What was Grandad Frank's job?", "He drove a bus for thirty years, the number 93 to Scarborough.", "m_frank_bus m_frank_93"),
("single-hop", "Which potato variety did Margaret pick for this year's allotment?", "Charlotte.", "m_seed_potatoes"),
("single-hop", "What is the secret ingredient in Margaret's beef stew?", "Stout.", "m_stew_recipe"),
("single-hop", "What car did Oliver buy?", "A blue 2012 Ford Fiesta from Gary's cousin; he calls it Bluey.", "o_car o_bluey"),
("single-hop", "What happened when Margaret tried ordering dinner in Portuguese in Lisbon?", "The waiter answered in English, but he said her accent was very nice.", "m_ordered_portuguese"),
("single-hop", "What souvenir did Margaret bring back for Oliver?", "A blue and white painted tile.", "m_bought_tile"),
("single-hop", "Who is Oliver sharing a house with?", "Kieran and Josh, in Heaton.", "o_moving_heaton"),
("single-hop", "Who fixed Margaret's fence, and why did it need fixing?", "Alan next door. Pepper had been squeezing through the gap to visit his hens.", "m_alan_fence"),
("single-hop", "What did Oliver fix at Margaret's house during his July visit?", "Her outside light (a dodgy connection).", "o_fixed_light"),
# multi-hop
("multi-hop", "Where did Oliver end up putting the souvenir Margaret brought back from Lisbon?", "The painted tile is in the kitchen of his Heaton house, above the kettle.", "m_bought_tile o_tile_kettle"),
("multi-hop", "Did the recipe Margaret gave Oliver for Valentine's Day work out?", "Mostly. She gave him her beef stew recipe; Zoe loved it and he burned nothing, but he forgot the dumplings.", "m_stew_recipe o_stew_valentine"),
("multi-hop", "What story about Oliver's grandfather did Margaret tell to cheer him up after his failed test, and how did it turn out for Oliver?", "That Grandad Frank failed his driving test twice and then drove buses for thirty years. Oliver passed on his second attempt.", "m_frank_failed m_frank_bus o_passed_test"),
("multi-hop", "What caused Oliver to fail his first driving test, and did it go better on the retest?", "He pulled out when he shouldn't have at the Metro Centre roundabout (a serious fault). On the retest he took that roundabout perfectly and passed with three minors.", "o_failed_test o_passed_test"),
("multi-hop", "What jam is Margaret planning for the 2024 show, and how is it different from the one she entered before?", "Strawberry and black pepper jam; in 2023 she entered rhubarb and ginger and came second.", "m_jam_second m_strawberry_plan m_black_pepper"),
("multi-hop", "Which kitchen mishaps has Oliver had since Christmas 2023?", "He burned the Yorkshire puddings at Christmas (smoke alarm twice) and burned rice in his new house when he went to the shop and left it on.", "o_burned_yorkshires o_rice_wed o_burned_rice"),
("multi-hop", "Did Margaret's Portuguese study pay off on her trip?", "Partly. She practised on Duolingo every morning (a 40-day streak by March), and in Lisbon she ordered dinner in Portuguese, though the waiter replied in English.", "m_portuguese m_duo_streak m_ordered_portuguese"),
("multi-hop", "How did Oliver's boss Gary figure in his progress during the year?", "Gary let him wire a consumer unit under supervision in November, his cousin sold Oliver his car, and he took Oliver for a pint after he passed the 18th Edition exam.", "o_consumer_unit o_car o_gary_pint"),
("multi-hop", "How is Oliver's sister Ellie getting on with school?", "She started Year 11 in September 2023 and finished her GCSEs in June 2024; she wants to do art and photography A-levels.", "o_ellie_y11 o_ellie_alevels"),
("multi-hop", "Who came along on Oliver's July visit to Whitby, and what did they eat while there?", "Zoe came with him, and they had fish and chips with Margaret at the Magpie Café.", "o_visit_plan m_magpie"),
("multi-hop", "What things has Margaret made or given Oliver over the year?", "A bottle-green jumper she knitted for Christmas, her beef stew recipe for Valentine's Day, and a painted tile from Lisbon for his new place.", "m_knitting_jumper m_stew_recipe m_bought_tile"),
("multi-hop", "How did Oliver's 18th Edition wiring exam go?", "He took it at college in June 2024, the one Gary calls the worst, and passed with 82 percent.", "o_18th_edition o_gary_worst o_passed_18th"),
# temporal
("temporal", "On what date did Oliver start his apprenticeship?", "Monday 4 September 2023.", "o_apprentice_start"),
("temporal", "When was Margaret's 2023 show, where she came second?", "Saturday 23 September 2023, the day before she told Oliver.", "m_jam_second"),
("temporal", "When was Margaret's Christmas choir concert?", "Wednesday 20 December 2023, at St Mary's.", "m_concert_date"),
("temporal", "When did Oliver pass his driving test?", "Thursday 7 March 2024.", "o_retest_booked o_passed_test"),
("temporal", "How long after his first driving test did Oliver pass?", "About seven weeks: he failed on 18 January 2024 and passed on 7 March 2024.", "o_test_booked o_failed_test o_passed_test"),
("temporal", "How many nights was Margaret in Lisbon?", "Five nights, flying out on 15 April 2024 and back on 20 April 2024.", "m_lisbon_dates"),
("temporal", "When did Oliver burn the rice in his new house?", "Wednesday 5 June 2024.", "o_rice_wed"),
("temporal", "How long did Margaret stay in Newcastle for Christmas 2023?", "From 22 to 27 December 2023, about five days.", "m_christmas_plan"),
("temporal", "When is the 2024 show where Margaret will enter her new jam?", "7 August 2024.", "m_strawberry_plan m_show_date"),
# open-domain
("open-domain", "What famous landmark did Zoe want to see in Whitby, and why might it interest her?", "Whitby Abbey, up the 199 steps. She studies history and loves castles and old buildings.", "o_zoe_castles o_zoe_abbey"),
("open-domain", "What kind of dog is Pepper, and what is that breed known for?", "A Border terrier, a small, hardy terrier breed; Margaret says they will eat anything.", "m_pepper_courgette m_border_terrier"),
("open-domain", "Which famous Lisbon sweet did Margaret eat every day?", "Pastéis de nata, the Portuguese custard tarts.", "m_pasteis"),
("open-domain", "What music did Margaret hear in the evening in Lisbon, and what is it like?", "Fado, a traditional Portuguese style of mournful songs. She found it sad and beautiful and cried a bit.", "m_fado"),
("open-domain", "Oliver's 18th Edition exam is about which set of rules?", "The IET Wiring Regulations (BS 7671), the UK rules for electrical installations.", "o_18th_edition"),
("open-domain", "Would a Duolingo gift subscription be a good present for Margaret?", "Yes. She uses the app every morning with her tea to learn Portuguese and kept a long streak.", "m_portuguese m_duo_streak m_duo_morning"),
("open-domain", "What voice part does Margaret sing, and is it higher or lower than Doreen's?", "Alto, which is lower than Doreen's soprano.", "m_alto m_doreen_soprano"),
]
